"""How fast could a validated load be? The floor under issue 2's 0.5x target.

    python benchmarks/bench_load_floor.py --enterprises 10000000 --source registry
    python benchmarks/bench_load_floor.py --enterprises 10000000 --source shareholders

For one generated delivery (cached under bench-data/, the same files as bench_load.py)
it measures, each side in its own child process:

- ``bare``: DuckDB's ``CREATE TABLE t AS SELECT * FROM read_csv(file)`` into a fresh
  file, the baseline of the target;
- ``fused``: the loader's own validating SQL (``validation.typed.plan_typed``) reading
  the file itself and writing one persistent table: one read, every check, one write.
  Nothing else a load does is in it: no row numbers, no quarantine or rejects, no
  within-file repeats, no supersession, no region derivation. The categorical
  columns' distinct values, which the loader cleans once and joins back, are taken
  from the file beforehand and not timed. It is a lower bound for any loader that
  validates what ``plan_typed`` validates;
- ``archive``: the loader's ``archive_file`` (a byte copy; for shareholders the
  re-export with resident IDs masked, which needs the rows);
- ``index``: the lookup index the load builds on the loaded table (the registry's
  ``enterprise_key``; the shareholders' is over the memory budget at this size and the
  loader skips it).

It prints the seconds of each and two ratios: ``bare / fused`` (a load with nothing
but the validation) and ``bare / (fused + archive + index)`` (the floor of a load that
also keeps the archive and the lookup index the issue and the web ask for).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import tempfile
import time
from pathlib import Path

import _child

INDEXED = {"registry": "enterprise_key"}


def child_bare(path: str) -> dict:
    """The baseline, with its CHECKPOINT timed as the fused side's is."""
    import duckdb

    d = tempfile.mkdtemp()
    con = duckdb.connect(f"{d}/bare.duckdb", config={"threads": 2, "memory_limit": "2500MB"})
    t = time.perf_counter()
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{path}')")
    con.execute("CHECKPOINT")
    elapsed = time.perf_counter() - t
    con.close()
    shutil.rmtree(d)
    return {"seconds": elapsed}


def fused_sql(plan_sql: str, target: str, read_select: str, staged: str, distinct: str) -> str:
    """The plan's SELECT with the staged table replaced by the file read itself.

    The main FROM reads ``read_select``; the categorical joins' ``SELECT DISTINCT``
    read the small table ``distinct`` instead of the staged rows.
    """
    select = plan_sql.split(f"CREATE TEMP TABLE {target} AS", 1)[1]
    main_from = f"FROM {staged} s "
    if select.count(main_from) != 1:
        raise SystemExit("the validating SQL no longer reads the staged table once as `s`")
    select = select.replace(main_from, f"FROM ({read_select}) s ")
    select = select.replace(f"FROM {staged})", f"FROM {distinct})")
    if re.search(rf"\b{staged}\b", select):
        raise SystemExit("the validating SQL reads the staged table somewhere else too")
    return select


def child_floor(source_name: str, path_s: str) -> dict:
    from crossinvest.config import Home
    from crossinvest.readers import stage_file
    from crossinvest.readers.csv_reader import (
        _create_sql,
        _leading_blank_lines,
        choose_delimiter,
        parse_header,
    )
    from crossinvest.readers.headers import check_header
    from crossinvest.readers.sniff import sample_text
    from crossinvest.sources import SOURCES
    from crossinvest.validation.typed import CATEGORICAL, plan_typed
    from crossinvest.warehouse.archive import archive_file
    from crossinvest.warehouse.connection import connect
    from crossinvest.warehouse.load import set_secret, sha256_file, table_columns

    source, path = SOURCES[source_name], Path(path_s)
    d = Path(tempfile.mkdtemp())
    wh = connect(Home(d / "home"))
    con = wh.con
    set_secret(con, wh.home.secret_key().hex())
    out: dict[str, float] = {}

    # Untimed: the staged rows give the categorical values and the masked archive its input.
    staged = stage_file(con, source, path, table="stg", tmp_dir=d)
    digest = sha256_file(path)
    t = time.perf_counter()
    archive_file(wh, source, path, digest, staged)
    out["archive"] = time.perf_counter() - t
    cats = sorted(
        {f for group in CATEGORICAL.get(source.name, []) for f in group} & set(staged.columns)
    )
    cat_cols = ", ".join(f'"{f}"' for f in cats) or "1 AS none"
    con.execute(f"CREATE TEMP TABLE stg_distinct AS SELECT DISTINCT {cat_cols} FROM stg")
    cols = table_columns(wh, source)
    plan = plan_typed(
        source, "stg", set(staged.columns), wh.home.settings()["fx_to_cny"], "typed", cols
    )
    con.execute("DROP TABLE stg")

    sample = sample_text(path)
    if sample.encoding != "utf-8" or _leading_blank_lines(sample.text)[0]:
        raise SystemExit("the floor reads UTF-8 files without leading blank lines only")
    delimiter = choose_delimiter(sample.text.split("\n", 1)[0], path)
    m = check_header(source, parse_header(sample.text, delimiter)[0], path)
    read_select = _create_sql(m, "x", delimiter).split(" AS ", 1)[1]
    sql = fused_sql(plan.sql, "typed", read_select, "stg", "stg_distinct")

    # read_csv's row estimate is tiny: left to the optimizer, every join builds its
    # hash table on the file's 10M rows instead of the few distinct values (140 s
    # instead of 35 s at 10M registry rows).
    con.execute("SET disabled_optimizers = 'join_order,build_side_probe_side'")
    con.execute("SET preserve_insertion_order = true")  # a loader numbers rows in file order
    t = time.perf_counter()
    con.execute(f"CREATE TABLE floor_rows AS {sql}", {"path": str(path)})
    con.execute("CHECKPOINT")
    out["fused"] = time.perf_counter() - t
    con.execute("RESET disabled_optimizers")
    out["rows"] = con.execute("SELECT count(*) FROM floor_rows").fetchall()[0][0]
    out["index"] = 0.0
    if source.name in INDEXED:
        t = time.perf_counter()
        con.execute(f"CREATE INDEX ix_floor ON floor_rows ({INDEXED[source.name]})")
        con.execute("CHECKPOINT")
        out["index"] = time.perf_counter() - t
    wh.close()
    shutil.rmtree(d)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    _child.loading_args(ap)
    a = ap.parse_args()
    if a.child:
        kind, *rest = a.child
        out = child_bare(rest[0]) if kind == "bare" else child_floor(rest[0], rest[1])
        _child.child_result(out)
        return

    data = _child.deliveries(a.data, a.enterprises)
    for source in a.source or ["registry", "shareholders"]:
        path = data / f"{source}.csv"
        bare = _child.run_child(__file__, ["bare", str(path)])
        floor = _child.run_child(__file__, ["floor", source, str(path)])
        whole = floor["fused"] + floor["archive"] + floor["index"]
        print(
            json.dumps(
                {
                    "source": source,
                    "rows": floor["rows"],
                    "bare_s": round(bare["seconds"], 2),
                    "fused_s": round(floor["fused"], 2),
                    "archive_s": round(floor["archive"], 2),
                    "index_s": round(floor["index"], 2),
                    "ratio_fused": round(bare["seconds"] / floor["fused"], 2),
                    "ratio_floor": round(bare["seconds"] / whole, 2),
                    "peak_rss_mb": round(floor["peak_rss_mb"]),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
