"""Validated load vs DuckDB's bare read_csv of the same file, side by side.

    python benchmarks/bench_load.py --enterprises 10000000          # registry + shareholders
    python benchmarks/bench_load.py --enterprises 200000 --source registry

Generates the deliveries once (cached under bench-data/), then for each source
runs, each in its own child process so peak RSS is its own:

- baseline: ``CREATE TABLE t AS SELECT * FROM read_csv(file)`` into a fresh DuckDB file;
- crossinvest: ``load_file`` into a fresh home (stage, validate, archive, insert, refresh).

Prints seconds, rows/s, peak RSS and the speed ratio baseline/crossinvest
(target >= 0.5, peak < 4 GiB).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import _child


def child_baseline(path: str) -> dict:
    import duckdb

    d = tempfile.mkdtemp()
    con = duckdb.connect(f"{d}/bare.duckdb", config={"threads": 2, "memory_limit": "2500MB"})
    t = time.perf_counter()
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{path}')")
    n = con.execute("SELECT count(*) FROM t").fetchone()[0]
    elapsed = time.perf_counter() - t
    con.close()
    shutil.rmtree(d)
    return {"seconds": elapsed, "rows": n}


def child_load(source: str, path: str, plugins: bool) -> dict:
    from crossinvest.config import Home
    from crossinvest.warehouse.connection import connect
    from crossinvest.warehouse.load import load_file

    d = Path(tempfile.mkdtemp())
    wh = connect(Home(d / "home"))
    if not plugins:
        # Loading the registry alone measures the loader, not the statistics refresh.
        from crossinvest.plugins import get_plugin_manager

        pm = get_plugin_manager()
        for name in ("crossinvest.analytics.plugin", "crossinvest.linkage.plugin"):
            if pm.get_plugin(name):
                pm.unregister(name=name)
    phases = _time_phases()
    t = time.perf_counter()
    r = load_file(wh, source, Path(path))
    elapsed = time.perf_counter() - t
    wh.close()
    shutil.rmtree(d)
    return {
        "seconds": elapsed,
        "rows": r.rows_read,
        "rejected": r.rows_rejected,
        "phases": {k: round(v, 2) for k, v in phases.items() if v >= 0.2},
    }


def _time_phases() -> dict[str, float]:
    """Seconds per step of the load: the loader's functions, and each SQL statement it runs.

    Statements come from the ``crossinvest.sql`` log (DEBUG), named by their first
    words; the staging read runs outside it and is timed as ``stage_file``.
    """
    import functools
    import logging

    import crossinvest.warehouse.load as load

    out: dict[str, float] = {}

    def timed(name: str) -> None:
        f = getattr(load, name)

        @functools.wraps(f)
        def wrapper(*a: object, **k: object) -> object:
            t = time.perf_counter()
            try:
                return f(*a, **k)
            finally:
                out[name] = out.get(name, 0.0) + time.perf_counter() - t

        setattr(load, name, wrapper)

    for name in ("stage_file", "archive_file", "derive_registry_regions", "ensure_indexes"):
        timed(name)

    class Statements(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seconds, _, sql = record.getMessage().strip().partition(" s  ")
            words = sql.split()
            name = "sql: " + " ".join(words[:4] if words[:1] != ["CREATE"] else words[:2])
            name = re.sub(r"_[0-9a-f]{8}\b", "", name)  # the load's table tag
            out[name] = out.get(name, 0.0) + float(seconds)

    log = logging.getLogger("crossinvest.sql")
    log.setLevel(logging.DEBUG)
    log.addHandler(Statements())
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    _child.loading_args(ap)
    ap.add_argument(
        "--with-plugins", action="store_true", help="include the statistics refresh in the load"
    )
    a = ap.parse_args()
    if a.child:
        kind, *rest = a.child
        out = (
            child_baseline(rest[0])
            if kind == "baseline"
            else child_load(rest[0], rest[1], rest[2] == "1")
        )
        _child.child_result(out)
        return

    data = _child.deliveries(a.data, a.enterprises)
    for source in a.source or ["registry", "shareholders"]:
        path = data / f"{source}.csv"
        size = path.stat().st_size / 1e6
        load_before = os.getloadavg()[0]
        base = _child.run_child(__file__, ["baseline", str(path)])
        ours = _child.run_child(
            __file__, ["load", source, str(path), "1" if a.with_plugins else "0"]
        )
        ratio = base["seconds"] / ours["seconds"]
        # The machine is shared: the load average says how comparable the run is.
        print(
            f"{source}: {ours['rows']:,} rows, {size:,.0f} MB | bare read_csv {base['seconds']:.2f}s "
            f"(peak {base['peak_rss_mb']:,.0f} MB) | crossinvest load {ours['seconds']:.2f}s "
            f"({ours['rows'] / ours['seconds']:,.0f} rows/s, peak {ours['peak_rss_mb']:,.0f} MB) | "
            f"speed ratio {ratio:.2f}x (target >= 0.5) | load average {load_before:.1f} -> "
            f"{os.getloadavg()[0]:.1f}",
            flush=True,
        )
        print(f"  phases (s): {json.dumps(ours['phases'], ensure_ascii=False)}", flush=True)


if __name__ == "__main__":
    main()
