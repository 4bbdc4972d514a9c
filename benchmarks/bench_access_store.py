"""The cost of one audit row: DuckDB vs SQLite (WAL), side by side, and ``audit.record``.

    python benchmarks/bench_access_store.py                # ~10 s
    python benchmarks/bench_access_store.py --rows 20000   # steadier figures

Why: the web layer appends one audit row per request, each committed on its own
(a request must not return before its audit row is durable in the store's
sense). The access store is SQLite in WAL mode with ``synchronous=NORMAL``
(``access/store.py``); this measures the choice against the warehouse's DuckDB,
on files in the same temporary folder, with the same table and row:

* DuckDB: ``BEGIN; INSERT …; COMMIT`` per row (file-backed database);
* SQLite: ``BEGIN IMMEDIATE; INSERT …; COMMIT`` per row, the store's settings;
* ``audit.record``: the real call (actor fields, masking, the last hash read,
  sha256 chain, insert, commit) on a store made by ``open_store``;
* ``audit.record_many`` in batches of 50, and ``audit_verify.verify`` over the log;
* ``usage.usage`` over ``--usage-rows`` audit rows spread over a year.

Rounds alternate between the engines and the best round counts, so load from
other jobs on this shared machine hits both sides alike; compare ratios.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

import duckdb

from crossinvest.access.actor import Actor, Scope
from crossinvest.access.audit import record, record_many
from crossinvest.access.audit_verify import verify
from crossinvest.access.store import now, open_store
from crossinvest.config import Home

COLUMNS = (
    '"at", event, user_id, username, role, org, districts, via, ip, method, path, query, '
    "dataset, rows, status, purpose, detail, prev_hash, hash"
)
ROW = (
    "2026-11-27T03:00:00Z",
    "read",
    7,
    "pudong",
    "district",
    "浦东新区投资促进办公室",
    "310115",
    "session",
    "10.1.2.3",
    "GET",
    "/api/v1/enterprises",
    "district=310115&industry=C&cursor=91310115MA1K3XXXXX",
    "enterprise",
    50,
    200,
    None,
    '{"dataset": "enterprise_list"}',
    "0" * 64,
    "f" * 64,
)
DDL = """
CREATE TABLE audit (
    id INTEGER PRIMARY KEY, "at" TEXT NOT NULL, event TEXT NOT NULL, user_id INTEGER,
    username TEXT, role TEXT, org TEXT, districts TEXT, via TEXT, ip TEXT, method TEXT,
    path TEXT, query TEXT, dataset TEXT, rows INTEGER, status INTEGER, purpose TEXT,
    detail TEXT, prev_hash TEXT NOT NULL, hash TEXT NOT NULL
)
"""
ACTOR = Actor(
    id="pudong",
    name="浦东新区投资促进办公室",
    role="district",
    scope=Scope(districts=frozenset({"310115"})),
    org="浦东新区投资促进办公室",
    user_id=7,
    via="session",
)


def duck_rows(path: Path, n: int) -> float:
    """Seconds per committed row in DuckDB."""
    con = duckdb.connect(str(path))
    con.execute(DDL.replace("id INTEGER PRIMARY KEY", "id BIGINT PRIMARY KEY"))
    sql = f"INSERT INTO audit (id, {COLUMNS}) VALUES (?{', ?' * len(ROW)})"
    t = time.perf_counter()
    for i in range(n):
        con.execute("BEGIN")
        con.execute(sql, [i, *ROW])
        con.execute("COMMIT")
    dt = time.perf_counter() - t
    con.close()
    return dt / n


def sqlite_rows(path: Path, n: int) -> float:
    """Seconds per committed row in SQLite with the access store's settings."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("DROP TABLE IF EXISTS audit")
    con.execute(DDL)
    sql = f"INSERT INTO audit ({COLUMNS}) VALUES (?{', ?' * (len(ROW) - 1)})"
    t = time.perf_counter()
    for _ in range(n):
        con.execute("BEGIN IMMEDIATE")
        con.execute(sql, ROW)
        con.execute("COMMIT")
    dt = time.perf_counter() - t
    con.close()
    return dt / n


def store_rows(home: Home, n: int) -> float:
    """Seconds per committed row in the store's own ``audit`` table (its two indexes,
    AUTOINCREMENT), without the chain: what ``record`` adds beyond SQL is the rest."""
    con = open_store(home)
    sql = f"INSERT INTO audit ({COLUMNS}) VALUES (?{', ?' * (len(ROW) - 1)})"
    t = time.perf_counter()
    for _ in range(n):
        con.execute("BEGIN IMMEDIATE")
        con.execute(sql, ROW)
        con.execute("COMMIT")
    dt = time.perf_counter() - t
    con.close()
    return dt / n


def record_rows(home: Home, n: int) -> float:
    """Seconds per ``audit.record`` call, each its own transaction."""
    con = open_store(home)
    t = time.perf_counter()
    for i in range(n):
        record(
            con,
            "read",
            actor=ACTOR,
            ip="10.1.2.3",
            method="GET",
            path="/api/v1/enterprises",
            query=f"district=310115&cursor={i}",
            dataset="enterprise",
            rows=50,
            status=200,
            detail={"dataset": "enterprise_list"},
        )
    dt = time.perf_counter() - t
    con.close()
    return dt / n


def record_many_rows(home: Home, n: int, batch: int = 50) -> float:
    con = open_store(home)
    rows = [
        {"event": "read", "actor": ACTOR, "path": "/api/v1/stats", "dataset": "stats", "rows": 9,
         "status": 200}
        for _ in range(batch)
    ]  # fmt: skip
    t = time.perf_counter()
    for _ in range(max(1, n // batch)):
        record_many(con, rows)
    dt = time.perf_counter() - t
    con.close()
    return dt / (max(1, n // batch) * batch)


def usage_seconds(home: Home, n: int) -> tuple[float, float]:
    """Seconds for ``usage()`` (12-month trend, then one month) over ``n`` audit rows
    spread over a year: 12 partner accounts of 8 organisations and 2 staff accounts.
    Rows are inserted directly (hashes are not the point here)."""
    import datetime as dt
    import random

    from crossinvest.access.usage import usage

    con = open_store(home)
    roles = ["district"] * 5 + ["agency"] * 5 + ["api"] * 2 + ["admin", "analyst"]
    for i, role in enumerate(roles, start=1):
        con.execute(
            "INSERT INTO users (id, username, display_name, role, org, districts, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z')",
            [i, f"u{i}", f"u{i}", role, f"org{i % 8}", "310115" if role == "district" else None],
        )
    rnd = random.Random(7)
    t0 = dt.datetime(2025, 12, 1, tzinfo=dt.UTC)
    ats = sorted(
        (t0 + dt.timedelta(seconds=rnd.randrange(365 * 86400))).strftime("%Y-%m-%dT%H:%M:%SZ")
        for _ in range(n)
    )
    rows = []
    for i, at in enumerate(ats, start=1):
        u = rnd.randrange(1, len(roles) + 1)
        rows.append(
            (i, at, rnd.choice(["read", "read", "export", "query", "sign_in"]), u, f"u{u}",
             roles[u - 1], f"org{u % 8}", rnd.choice(["stats", "enterprise", "definitions"]),
             rnd.randrange(100), rnd.choice([200, 200, 200, 403]), "-", "-")
        )  # fmt: skip
    con.execute("BEGIN")
    con.executemany(
        "INSERT INTO audit (id, at, event, user_id, username, role, org, dataset, rows, status,"
        " prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    con.execute("COMMIT")
    t = time.perf_counter()
    usage(con, month="2026-11", months=12)
    year = time.perf_counter() - t
    t = time.perf_counter()
    usage(con, month="2026-11", months=1)
    month = time.perf_counter() - t
    con.close()
    return year, month


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5000, help="rows per SQLite/record round")
    ap.add_argument("--duck-rows", type=int, default=500, help="rows per DuckDB round")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--usage-rows", type=int, default=200_000, help="audit rows for usage()")
    args = ap.parse_args()

    best: dict[str, float] = {}

    def keep(name: str, v: float) -> None:
        best[name] = min(best.get(name, float("inf")), v)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for r in range(args.repeat):
            keep("duckdb", duck_rows(root / f"d{r}.duckdb", args.duck_rows))
            keep("sqlite", sqlite_rows(root / f"s{r}.sqlite3", args.rows))
            keep("store", store_rows(Home(root / f"t{r}"), args.rows))
            keep("record", record_rows(Home(root / f"h{r}"), args.rows))
            keep("record_many", record_many_rows(Home(root / f"m{r}"), args.rows))
        con = open_store(Home(root / "h0"))
        n = con.execute("SELECT count(*) FROM audit").fetchone()[0]
        t = time.perf_counter()
        result = verify(con)
        verify_s = (time.perf_counter() - t) / max(1, n)
        assert result.ok, result
        con.close()
        usage_year, usage_month = usage_seconds(Home(root / "u"), args.usage_rows)

    sqlite_s = best["sqlite"]
    table = [
        ("DuckDB: one row committed (BEGIN/INSERT/COMMIT)", best["duckdb"]),
        ("SQLite WAL: one row committed (BEGIN IMMEDIATE/INSERT/COMMIT)", sqlite_s),
        ("SQLite WAL: the same, into the store's audit table (indexes)", best["store"]),
        ("audit.record (chain + mask + commit, one row)", best["record"]),
        ("audit.record_many, batches of 50 (per row)", best["record_many"]),
        (f"audit_verify.verify over {n} rows (per row)", verify_s),
    ]
    print(f"{'what':<64} {'per row':>10} {'rows/s':>10} {'÷ SQLite':>9}")
    for name, s in table:
        print(f"{name:<64} {s * 1e6:>8.1f}µs {1 / s:>10,.0f} {s / sqlite_s:>8.1f}×")
    print(f"at {now()}; best of {args.repeat} rounds; {args.rows} rows per round")
    print(
        f"usage() over {args.usage_rows:,} audit rows in a year: 12-month trend "
        f"{usage_year:.2f} s, one month {usage_month:.2f} s"
    )
    if 1 / best["record"] < 2000:
        raise SystemExit("audit.record is below 2,000 rows/s")


if __name__ == "__main__":
    main()
