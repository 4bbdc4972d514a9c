"""Record linkage: quality against known truth, speed and peak memory.

    python benchmarks/bench_linkage.py --enterprises 100000 --records 100000
    python benchmarks/bench_linkage.py --enterprises 10000000 --records 1000000     # the target run
    python benchmarks/bench_linkage.py --generated 20000                            # generator + loader

Synthetic mode (default) builds the registry and the tax rows straight into a
fresh warehouse with ``crossinvest.linkage.synth`` (names, USCCs and the
generator's spelling noise in SQL: a million noisy rows in seconds), then runs
in three child processes, so that each peak RSS is its own:

1. setup: registry rows, the registry load's linkage work (enterprise features
   and name-collision counts, timed), the tax rows (none with a valid USCC: a third no ID, a third a
   mistyped USCC, a third the legacy 15-character number; 60% respelled);
2. link: the tax batch's ``after_load`` work, in one transaction as a load runs
   it: record features, deterministic rules, training the model (first load),
   blocking, Splink scoring, bands, writing ``record_links``;
3. a second, small batch (1% of the records) linked with the stored model.

Targets: precision >= 0.995, recall >= 0.98 on rows without a valid USCC; the
million-record link step <= 120 s and peak RSS < 4 GiB.

``--generated N`` instead generates N enterprises with ``crossinvest.generate``,
loads every file with the real loader and measures quality against the
generator's truth files.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import _child

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_setup(home: str, enterprises: int, records: int, seed: int) -> dict:
    from crossinvest.config import Home
    from crossinvest.linkage import synth
    from crossinvest.linkage.lifecycle import on_load
    from crossinvest.warehouse.connection import connect, transaction

    wh = connect(Home(Path(home)))
    con = wh.con
    t = time.perf_counter()
    synth.make_registry(con, 1, enterprises, seed)
    t_reg = time.perf_counter() - t
    t = time.perf_counter()
    with transaction(con):
        on_load(con, 1, "registry")  # what a registry load adds: features and name-collision counts
    t_feat = time.perf_counter() - t
    t = time.perf_counter()
    synth.make_records(con, "tax", 2, records, enterprises, seed)
    synth.make_records(
        con, "tax", 3, max(records // 100, 10), enterprises, seed, noise_seed=seed + 1
    )
    t_rec = time.perf_counter() - t
    n_reg = con.execute("SELECT count(*) FROM registry").fetchall()[0][0]
    wh.close()
    return {
        "registry_rows": n_reg,
        "registry_insert_s": t_reg,
        "registry_linkage_s": t_feat,
        "records_insert_s": t_rec,
        "peak_mib": _peak_mib(),
    }


def child_link(home: str, batch: int) -> dict:
    from crossinvest.config import Home
    from crossinvest.linkage.lifecycle import on_load
    from crossinvest.warehouse.connection import connect, transaction

    wh = connect(Home(Path(home)))
    t = time.perf_counter()
    with transaction(wh.con):
        stats = on_load(wh.con, batch, "tax")
    elapsed = time.perf_counter() - t
    wh.close()
    return {"seconds": elapsed, "stats": [s.as_json() for s in stats], "peak_mib": _peak_mib()}


def child_quality(home: str) -> dict:
    import duckdb

    con = duckdb.connect(str(Path(home) / "warehouse.duckdb"), read_only=True)
    linked, correct, truth, rows = con.execute(
        """
        SELECT count(l.enterprise_key), count(*) FILTER (l.enterprise_key = t.true_key),
               count(*) FILTER (t.true_key IS NOT NULL), count(*)
        FROM synth_truth t
        LEFT JOIN (SELECT record_key, any_value(enterprise_key) AS enterprise_key FROM record_links
                   WHERE status IN ('auto', 'accepted') GROUP BY 1) l USING (record_key)
        """
    ).fetchall()[0]
    queue = con.execute(
        "SELECT count(DISTINCT record_key) FROM record_links WHERE status = 'review'"
    ).fetchall()[0][0]
    by_kind = con.execute(
        """
        SELECT t.kind, count(*), count(*) FILTER (l.enterprise_key = t.true_key)
        FROM synth_truth t
        LEFT JOIN (SELECT record_key, any_value(enterprise_key) AS enterprise_key FROM record_links
                   WHERE status IN ('auto', 'accepted') GROUP BY 1) l USING (record_key)
        WHERE t.true_key IS NOT NULL GROUP BY 1 ORDER BY 1
        """
    ).fetchall()
    con.close()
    return {
        "rows": rows,
        "linked_rows": linked,
        "precision": correct / max(linked, 1),
        "recall": correct / max(truth, 1),
        "review_queue_records": queue,
        "recall_by_id_kind": {k: c / n for k, n, c in by_kind},
    }


def child_generated(home: str, enterprises: int, seed: int) -> dict:
    from crossinvest.config import Home
    from crossinvest.generate import generate
    from crossinvest.warehouse.connection import connect
    from crossinvest.warehouse.load import load_file
    from tests.test_linkage_generated import link_quality

    out_dir = Path(home) / "gen"
    t = time.perf_counter()
    out = generate(out_dir, enterprises=enterprises, seed=seed)
    t_gen = time.perf_counter() - t
    wh = connect(Home(Path(home) / "home"))
    times = {}
    for source in ("registry", "tax", "stats"):
        t = time.perf_counter()
        for path in out.paths(source):
            load_file(wh, source, path)
        times[source] = time.perf_counter() - t
    q = link_quality(wh.con, out.truth_dir)
    wh.close()
    return {"generate_s": t_gen, "load_s": times, **q, "peak_mib": _peak_mib()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--enterprises", type=int, default=100_000)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument(
        "--generated", type=int, default=0, help="use the generator and loader with N enterprises"
    )
    ap.add_argument("--keep", type=Path, help="keep the warehouse in this folder")
    ap.add_argument("--child", nargs="+")
    a = ap.parse_args()
    if a.child:
        kind, *rest = a.child
        fn = {
            "setup": child_setup,
            "link": child_link,
            "quality": child_quality,
            "generated": child_generated,
        }[kind]
        print(json.dumps(fn(rest[0], *map(int, rest[1:]))))
        return

    tmp = Path(tempfile.mkdtemp(prefix="bench-linkage-"))
    home = a.keep or tmp / "home"
    try:
        if a.generated:
            res = _child.run_child(__file__, ["generated", str(tmp), str(a.generated), str(a.seed)])
            print(json.dumps(res, ensure_ascii=False, indent=1))
            return
        setup = _child.run_child(
            __file__, ["setup", str(home), str(a.enterprises), str(a.records), str(a.seed)]
        )
        first = _child.run_child(__file__, ["link", str(home), "2"])
        second = _child.run_child(__file__, ["link", str(home), "3"])
        quality = _child.run_child(__file__, ["quality", str(home)])
        report = {
            "enterprises": a.enterprises,
            "records": a.records,
            "setup": setup,
            "link_first_batch": first,
            "link_small_batch": second,
            "quality": quality,
        }
        print(json.dumps(report, ensure_ascii=False, indent=1))
        ok = (
            quality["precision"] >= 0.995
            and quality["recall"] >= 0.98
            and first["peak_mib"] < 4096
            and first["seconds"] <= 120
        )
        print(
            f"\nprecision {quality['precision']:.4f}  recall {quality['recall']:.4f}  "
            f"review queue {quality['review_queue_records']}  link {first['seconds']:.1f} s  "
            f"peak {first['peak_mib']:.0f} MiB  small batch {second['seconds']:.1f} s  "
            f"-> {'OK' if ok else 'MISSED'}"
        )
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
