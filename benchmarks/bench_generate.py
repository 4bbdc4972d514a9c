"""Benchmark ``crossinvest generate``: rows per second and peak memory.

    python benchmarks/bench_generate.py --enterprises 10000000          # the 10M benchmark
    python benchmarks/bench_generate.py -n 10000000 --workers 2     # both cores
    python benchmarks/bench_generate.py -n 1000000 --noise --keep /data/gen

Prints one JSON line (machine readable) after a short human summary. The output
directory is a temporary one and is removed afterwards unless ``--keep`` names one.
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

from crossinvest.generate import generate


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--enterprises", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--noise", action="store_true", help="inject deviations (default: clean files)")
    ap.add_argument("--formats", default="csv", choices=["csv", "mixed"])
    ap.add_argument("--workers", type=int, default=1, help="processes building chunks")
    ap.add_argument("--keep", type=Path, help="write here and keep the files")
    args = ap.parse_args(argv)

    out = args.keep or Path(tempfile.mkdtemp(prefix="bench-generate-"))
    last = [time.perf_counter()]

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] > 30 or done == total:
            print(f"  {done:>12,} / {total:,} enterprises", file=sys.stderr, flush=True)
            last[0] = now

    t0 = time.perf_counter()
    try:
        result = generate(
            out,
            enterprises=args.enterprises,
            seed=args.seed,
            noise=args.noise,
            formats=args.formats,
            progress=progress,
            workers=args.workers,
        )
        seconds = time.perf_counter() - t0
        rows = {
            s: sum(f.rows for f in result.files if f.source == s)
            for s in ("registry", "shareholders", "tax", "stats")
        }
        sizes = {f.path.name: f.path.stat().st_size for f in result.files}
    finally:
        if args.keep is None:
            shutil.rmtree(out, ignore_errors=True)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    # Workers: the largest one's peak; all of them together stay below workers x that.
    child_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    total_rows = sum(rows.values())
    report = {
        "enterprises": args.enterprises,
        "noise": args.noise,
        "formats": args.formats,
        "workers": args.workers,
        "seconds": round(seconds, 1),
        "rows": rows,
        "rows_total": total_rows,
        "rows_per_second": round(total_rows / seconds),
        "enterprises_per_second": round(args.enterprises / seconds),
        "peak_rss_mib": round(peak_mib),
        "peak_rss_worker_mib": round(child_mib) if args.workers > 1 else 0,
        "peak_rss_total_bound_mib": round(
            peak_mib + (args.workers * child_mib if args.workers > 1 else 0)
        ),
        "bytes": sizes,
        "bytes_total": sum(sizes.values()),
    }
    print(
        f"{args.enterprises:,} enterprises, {total_rows:,} rows in {seconds:.1f} s "
        f"({report['rows_per_second']:,} rows/s), peak RSS {peak_mib:,.0f} MiB, "
        f"{report['bytes_total'] / 2**20:,.0f} MiB written",
        file=sys.stderr,
    )
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
