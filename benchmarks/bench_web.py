"""Web benchmark: p95 latency of every API figure and page, and wrk throughput vs Datasette.

    python benchmarks/bench_web.py                     # demo-like data, 400 enterprises
    python benchmarks/bench_web.py --enterprises 20000 # larger generated data
    python benchmarks/bench_web.py --home /srv/big     # an existing home (copied, not touched)

What it does, against a real ``crossinvest serve`` on loopback:

1. p95 of every API figure and every page, **uncomputed** (each request carries a
   unique ignored ``_`` parameter, so the answer cache misses and the figures are
   read from the materialised statistics) and **cached** (the same URL again).
   Targets: API figures < 100 ms, whole pages < 300 ms.
2. ``wrk`` on one cached API figure (target >= 1,000 requests/s on 2 cores), and in
   the same run the same aggregate exported to SQLite and served by Datasette
   (``pip install datasette``; ``apt-get install -y wrk``), measured the same way.

Prints one JSON object; ``--out FILE`` writes it too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

API_TARGET_MS, PAGE_TARGET_MS, RPS_TARGET = 100.0, 300.0, 1000.0


# Every request is made by a signed-in office analyst through an API key, as a
# partner system would call: the sign-in check and the audit row are measured too.
AUTH: dict[str, str] = {}


def bench_account(home: Path) -> None:
    """Create an analyst account and key in ``home``; requests carry the key from now on."""
    from crossinvest.access.accounts import create_key, create_user, get_user
    from crossinvest.access.catalogue import BY_NAME
    from crossinvest.access.store import open_store
    from crossinvest.config import Home

    con = open_store(Home(home))
    if get_user(con, "bench") is None:
        create_user(con, "bench", role="analyst", password="Perf-run-2026!")
    key, _ = create_key(con, "bench", name="bench_web", datasets=list(BY_NAME), days=1)
    con.close()
    AUTH["Authorization"] = f"Bearer {key}"


def get(url: str) -> tuple[float, bytes]:
    t = time.perf_counter()
    req = urllib.request.Request(url, headers=AUTH)
    with urllib.request.urlopen(req, timeout=120) as r:
        body = r.read()
        if r.status != 200:
            raise RuntimeError(f"{url}: HTTP {r.status}")
    return (time.perf_counter() - t) * 1000, body


def p95(samples: list[float]) -> float:
    s = sorted(samples)
    return s[max(0, int(round(0.95 * len(s))) - 1)]


def start_server(home: Path) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, CROSSINVEST_HOME=str(home))
    proc = subprocess.Popen(
        [sys.executable, "-m", "crossinvest.web.server", "--port", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    info = home / "server.json"
    deadline = time.monotonic() + 300
    while not info.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"server did not start: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.1)
    return proc, json.loads(info.read_text())["url"]


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def targets(base: str) -> tuple[dict[str, str], dict[str, str]]:
    """(API figures, pages) to measure, named."""
    year = json.loads(get(base + "/api/v1/latest-year")[1])["data"]["year"]
    rows = json.loads(get(f"{base}/api/v1/stats/inbound?period={year}&by=origin_province")[1])[
        "data"
    ]["rows"]
    top = max((r for r in rows if r["origin_province"]), key=lambda r: r["investment_wan"])[
        "origin_province"
    ]
    districts = json.loads(get(f"{base}/api/v1/stats/inbound?period={year}&by=district")[1])[
        "data"
    ]["rows"]
    district = max((r for r in districts if r["district"]), key=lambda r: r["enterprises"])[
        "district"
    ]
    ent = json.loads(get(f"{base}/api/v1/stats/inbound/enterprises?period={year}&limit=1")[1])[
        "data"
    ]["rows"][0]
    api = {
        f"stats {k} by {d}": f"/api/v1/stats/{k}?period={year}&by={d}"
        for k, dims in (
            (
                "inbound",
                (
                    "origin_province",
                    "origin_prefecture",
                    "district",
                    "industry_section",
                    "industry_division",
                ),
            ),
            (
                "outbound",
                (
                    "dest_province",
                    "dest_prefecture",
                    "industry_section",
                    "support_region",
                    "district",
                ),
            ),
        )
        for d in dims
    }
    api |= {
        "stats inbound by district, one origin": f"/api/v1/stats/inbound?period={year}&by=district&origin_province={top}",
        "stats inbound penetrated": f"/api/v1/stats/inbound?period={year}&by=origin_province&penetrate=true",
        "stats inbound quarter": f"/api/v1/stats/inbound?period={year}Q2&by=origin_province",
        "overview inbound": f"/api/v1/overview?kind=inbound&year={year}",
        "enterprise list, one origin": f"/api/v1/stats/inbound/enterprises?period={year}&origin_province={top}",
        "enterprise list, one district": f"/api/v1/stats/inbound/enterprises?period={year}&district={district}",
        "enterprise list, unfiltered": f"/api/v1/stats/inbound/enterprises?period={year}",
        "enterprise profile": f"/api/v1/enterprises/{ent['uscc']}",
        "ownership chain": f"/api/v1/enterprises/{ent['uscc']}/chain",
        "search": f"/api/v1/enterprises?q={urllib.request.quote(ent['name'][2:6])}",
        # A two-character fragment few names hold: every name is read (nothing ends the scan
        # early, and DuckDB cannot skip a row group for it by its statistics).
        "search, a rare fragment": f"/api/v1/enterprises?q={urllib.request.quote('礼宇')}",
        "batches": "/api/v1/batches",
        "quarantine": "/api/v1/quarantine",
        "freshness": "/api/v1/freshness",
    }
    pages = {
        "overview": "/",
        "inbound": f"/inbound?period={year}",
        "inbound drilled": f"/inbound?period={year}&province={top}",
        "outbound": f"/outbound?period={year}",
        "enterprise search": f"/enterprises?q={urllib.request.quote(ent['name'][2:6])}",
        "enterprise profile": f"/enterprises/{ent['uscc']}",
        "data": "/data",
        "definitions": "/definitions",
    }
    return api, pages


def latencies(base: str, named: dict[str, str], n: int) -> dict[str, dict[str, float]]:
    out = {}
    for name, path in named.items():
        sep = "&" if "?" in path else "?"
        cold = [get(f"{base}{path}{sep}_={time.time_ns()}")[0] for _ in range(n)]
        get(base + path)
        warm = [get(base + path)[0] for _ in range(n)]
        out[name] = {
            "p95_uncached_ms": round(p95(cold), 2),
            "median_uncached_ms": round(statistics.median(cold), 2),
            "p95_cached_ms": round(p95(warm), 2),
        }
    return out


def wrk(url: str, seconds: int, connections: int) -> dict[str, float]:
    if shutil.which("wrk") is None:
        return {"error": "wrk missing: apt-get install -y wrk"}  # type: ignore[dict-item]
    proc = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            *[a for k, v in AUTH.items() for a in ("-H", f"{k}: {v}")],
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    rps = next(
        float(line.split()[1])
        for line in proc.stdout.splitlines()
        if line.startswith("Requests/sec")
    )
    p99 = next(
        (line.split()[1] for line in proc.stdout.splitlines() if line.strip().startswith("99%")), ""
    )
    non2xx = next((line for line in proc.stdout.splitlines() if "Non-2xx" in line), "")
    return {"requests_per_s": rps, "latency_p99": p99, "non_2xx": non2xx}  # type: ignore[dict-item]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def datasette_run(rows: list[dict], work: Path, seconds: int, connections: int) -> dict:
    """The same aggregate from SQLite, served by Datasette, measured with wrk."""
    exe = shutil.which("datasette") or str(Path(sys.executable).with_name("datasette"))
    if not Path(exe).exists():
        return {"error": "datasette missing: pip install datasette (the bench extra)"}
    db = work / "agg.db"
    con = sqlite3.connect(db)
    cols = list(rows[0])
    con.execute(f"CREATE TABLE agg ({', '.join(cols)})")
    con.executemany(
        f"INSERT INTO agg VALUES ({', '.join('?' for _ in cols)})",
        [tuple(r[c] for c in cols) for r in rows],
    )
    con.commit()
    con.close()
    port = free_port()
    proc = subprocess.Popen(
        [exe, "serve", str(db), "-h", "127.0.0.1", "-p", str(port), "--immutable", str(db)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/agg/agg.json?_shape=array"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                get(url)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        return {"url": url, **wrk(url, seconds, connections)}
    finally:
        stop(proc)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, help="an existing CROSSINVEST_HOME to copy")
    ap.add_argument("--enterprises", type=int, default=400)
    ap.add_argument("--samples", type=int, default=20, help="requests per URL and mode")
    ap.add_argument("--seconds", type=int, default=10, help="wrk duration")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench-web-"))
    try:
        home = work / "home"
        if args.home:
            shutil.copytree(args.home, home, ignore=shutil.ignore_patterns("server.json"))
        else:
            from crossinvest.web.testing import demo_home

            t = time.perf_counter()
            demo_home(home, enterprises=args.enterprises, anonymous_role=None)
            print(f"demo data built in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        bench_account(home)
        proc, base = start_server(home)
        try:
            deadline = time.monotonic() + 600
            # Measured once the warm-up and the writer's upkeep (the name index, 2-3 min
            # at 10M names) are done: neither competes with the requests for the cores.
            while any(
                json.loads(get(base + "/api/v1/health")[1])["data"][k]
                for k in ("warming_up", "upkeep_running")
            ):
                if time.monotonic() > deadline:
                    raise RuntimeError("warm-up did not finish")
                time.sleep(0.5)
            api, pages = targets(base)
            result: dict = {"base": base, "enterprises": None if args.home else args.enterprises}
            result["api"] = latencies(base, api, args.samples)
            result["pages"] = latencies(base, pages, args.samples)
            result["api_worst_p95_uncached_ms"] = max(
                v["p95_uncached_ms"] for v in result["api"].values()
            )
            result["page_worst_p95_uncached_ms"] = max(
                v["p95_uncached_ms"] for v in result["pages"].values()
            )
            figure = api["stats inbound by origin_province"]
            get(base + figure)
            result["wrk_crossinvest"] = {
                "url": base + figure,
                **wrk(base + figure, args.seconds, args.connections),
            }
            rows = json.loads(get(base + figure)[1])["data"]["rows"]
        finally:
            stop(proc)
        result["wrk_datasette"] = datasette_run(rows, work, args.seconds, args.connections)
        result["targets"] = {
            "api_p95_ms": API_TARGET_MS,
            "page_p95_ms": PAGE_TARGET_MS,
            "cached_requests_per_s": RPS_TARGET,
            "met": result["api_worst_p95_uncached_ms"] < API_TARGET_MS
            and result["page_worst_p95_uncached_ms"] < PAGE_TARGET_MS
            and result["wrk_crossinvest"].get("requests_per_s", 0) >= RPS_TARGET,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(result, ensure_ascii=False, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
