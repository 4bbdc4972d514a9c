"""What storing a delivery's rows in key order costs its load (``Source.cluster``).

    python benchmarks/bench_cluster.py --file bench-data/n10000000/tax_2018Q1.csv [--source tax] [--runs 2]

Loads the same file into a fresh home with the source's clustering on and off,
alternately, each load in its own child process; prints seconds per load and
the ratio. The clustered storage is what lets a profile read one enterprise's
tax rows out of 80M through DuckDB's min/max (docs/architecture.md).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def child(source: str, path: str, cluster: bool) -> dict:
    from crossinvest.config import Home
    from crossinvest.plugins import get_plugin_manager
    from crossinvest.sources import SOURCES
    from crossinvest.warehouse.connection import connect
    from crossinvest.warehouse.load import load_file

    pm = get_plugin_manager()
    for name in ("crossinvest.analytics.plugin", "crossinvest.linkage.plugin"):
        if pm.get_plugin(name):
            pm.unregister(name=name)
    if not cluster:
        object.__setattr__(SOURCES[source], "cluster", None)  # frozen dataclass
    d = Path(tempfile.mkdtemp())
    wh = connect(Home(d / "home"))
    t = time.perf_counter()
    r = load_file(wh, source, Path(path))
    elapsed = time.perf_counter() - t
    wh.close()
    shutil.rmtree(d)
    return {"seconds": elapsed, "rows": r.rows_loaded}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", type=Path)
    ap.add_argument("--source", default="tax")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--child", nargs=3)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child[0], a.child[1], a.child[2] == "1")))
        return
    if a.file is None:
        ap.error("--file is required")
    out: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(a.runs):
        for cluster in (True, False):
            proc = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    a.source,
                    str(a.file),
                    "1" if cluster else "0",
                ],
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                raise SystemExit(proc.stderr)
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            out[cluster].append(r["seconds"])
            print(
                f"cluster={'on ' if cluster else 'off'} {r['rows']:,} rows in {r['seconds']:.2f} s"
            )
    on, off = min(out[True]), min(out[False])
    print(f"best of {a.runs}: clustered {on:.2f} s, unclustered {off:.2f} s, ratio {on / off:.2f}x")


if __name__ == "__main__":
    main()
