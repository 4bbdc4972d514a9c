"""Opening the warehouse, and running SQL so that a failure names its query.

Every SQL error is re-raised as ``WarehouseSQLError`` carrying the statement that
failed (the splink pattern): a stack trace without the query is useless when the
query was generated.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import duckdb

from crossinvest.config import Home, current_home

# Each statement's time at DEBUG: ``logging.getLogger("crossinvest.sql").setLevel(DEBUG)``
# is how a slow refresh or load is taken apart (benchmarks' ``--trace-sql``).
sql_log = logging.getLogger("crossinvest.sql")


class WarehouseSQLError(RuntimeError):
    """A SQL statement failed; ``sql`` holds the statement."""

    def __init__(self, message: str, sql: str):
        super().__init__(f"{message}\n--- failing SQL ---\n{sql}")
        self.sql = sql
        self.short = message


class WarehouseBusy(RuntimeError):
    """Another process (normally ``crossinvest serve``) holds the warehouse for writing."""


def run(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> duckdb.DuckDBPyConnection:
    """Execute ``sql`` on ``con``; on failure raise ``WarehouseSQLError`` with the query."""
    timing = sql_log.isEnabledFor(logging.DEBUG)
    t0 = time.perf_counter() if timing else 0.0
    try:
        out = con.execute(sql, params) if params is not None else con.execute(sql)
    except duckdb.Error as e:
        raise WarehouseSQLError(str(e).splitlines()[0] if str(e) else type(e).__name__, sql) from e
    if timing:
        sql_log.debug("%8.3f s  %s", time.perf_counter() - t0, " ".join(sql.split())[:160])
    return out


def fetch_one(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> tuple | None:
    # Read the result to the end: in DuckDB 2.0 a half-read result blocks the
    # connection's next query (Splink's, in the same load transaction).
    rows = run(con, sql, params).fetchall()
    return rows[0] if rows else None


def fetch_all(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> list[tuple]:
    return run(con, sql, params).fetchall()


def table_ddl(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """The ``CREATE TABLE`` statement of the warehouse table ``table`` (not a temp table)."""
    row = fetch_one(
        con,
        "SELECT sql FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = ? "
        "AND NOT temporary",
        [table],
    )
    if row is None:
        raise ValueError(f"no table {table!r}")
    return str(row[0])


def fetch_dicts(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> list[dict]:
    cur = run(con, sql, params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """One all-or-nothing unit of work: commit on success, roll back on any error."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    else:
        con.execute("COMMIT")


@dataclass
class Warehouse:
    """An open warehouse: the home it lives in and its DuckDB connection."""

    home: Home
    con: duckdb.DuckDBPyConnection

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(
    home: Home | None = None, *, read_only: bool = False, migrate: bool = True
) -> Warehouse:
    """Open (and create or upgrade) the warehouse under ``home``.

    >>> import tempfile, pathlib
    >>> from crossinvest.config import Home
    >>> with connect(Home(pathlib.Path(tempfile.mkdtemp()))) as wh:
    ...     wh.con.execute("SELECT count(*) FROM batches").fetchone()[0]
    0
    """
    home = (home or current_home()).ensure()
    config: dict[str, str | bool | int | float | list[str]] = {
        "threads": 2,
        # Keep well under the 4 GiB budget; DuckDB spills to temp_directory beyond it.
        "memory_limit": "2500MB",
        "temp_directory": str(home.tmp / "duckdb"),
        "preserve_insertion_order": True,
    }
    try:
        con = duckdb.connect(str(home.warehouse), read_only=read_only, config=config)
    except duckdb.IOException as e:
        if "lock" in str(e).lower():
            raise WarehouseBusy(
                f"仓库正被另一个进程写入（{home.warehouse}）；请等待其完成，"
                "或通过运行中的 crossinvest serve 提交。"
            ) from e
        raise
    # Our own Rich bars report progress; DuckDB's would interleave on stderr.
    con.execute("SET enable_progress_bar = false")
    if migrate and not read_only:
        from crossinvest.warehouse.migrations import migrate as _migrate

        _migrate(con)
        from crossinvest.warehouse.lookups import ensure_indexes

        ensure_indexes(con)
    from crossinvest.validation.macros import install_macros

    install_macros(con)
    return Warehouse(home, con)
