"""What the loading benchmarks share: their options, the cached deliveries, child processes.

Each side of a benchmark runs in a child process, so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def loading_args(ap: argparse.ArgumentParser) -> None:
    """``--enterprises``, ``--source``, ``--data`` and the internal ``--child``."""
    ap.add_argument("--enterprises", type=int, default=1_000_000)
    ap.add_argument("--source", action="append", choices=["registry", "shareholders"])
    ap.add_argument("--data", type=Path, default=ROOT / "bench-data")
    ap.add_argument("--child", nargs="+")


def deliveries(data: Path, enterprises: int) -> Path:
    """The generated deliveries for ``enterprises`` (seed 7, no noise), generated once."""
    from crossinvest.generate import generate

    out = data / f"n{enterprises}"
    if not (out / "registry.csv").exists():
        t = time.perf_counter()
        generate(out, enterprises=enterprises, seed=7, noise=False, formats="csv")
        print(f"generated {enterprises:,} enterprises in {time.perf_counter() - t:.1f}s -> {out}")
    return out


def child_result(out: dict) -> None:
    """Print a child's result, with its peak RSS, as the last line run_child reads."""
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def run_child(script: str, args: list[str]) -> dict:
    """Run ``script --child ARGS`` with this Python; return the JSON its last line prints."""
    proc = subprocess.run(
        [sys.executable, script, "--child", *args], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])
