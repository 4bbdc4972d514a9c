"""Compiled SQL, cached in memory and in the warehouse (``an_sql_cache``).

Compiling the larger Ibis expressions costs seconds (the cube expression is
~100 KB of SQL), more than running them on a small delivery. Every expression
the refresh and the served answers run is therefore compiled once and kept
under a key naming what determines it; the key includes a hash of the
statistics code, Ibis's version and the warehouse schema module, so a new
release never runs stale SQL.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections.abc import Callable
from importlib import resources

import duckdb
import ibis

CACHE_DDL = """
CREATE TABLE IF NOT EXISTS an_sql_cache (
    key VARCHAR PRIMARY KEY,
    sql VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL
);
"""

_MODULES = (
    "model",
    "cube",
    "live",
    "answer",
    "penetration",
    "materialize",
    "measures",
    "refresh",
    "subsets",
    "delta",
    "query",
    "lookups",
    "tables",
    "sqlcache",
)
_MEM: dict[str, str] = {}


@functools.cache
def code_version() -> str:
    """Hash of everything that shapes the compiled SQL."""
    h = hashlib.sha256(ibis.__version__.encode())
    pkg = resources.files("crossinvest.analytics")
    for m in _MODULES:
        h.update(pkg.joinpath(f"{m}.py").read_bytes())
    h.update(resources.files("crossinvest.warehouse").joinpath("schema.py").read_bytes())
    return h.hexdigest()[:16]


def cached_sql(
    con: duckdb.DuckDBPyConnection | None,
    key: str,
    build: Callable[[], str],
    *,
    persist: bool = True,
) -> str:
    """The SQL for ``key``: from memory, else the warehouse, else ``build()`` (then stored)."""
    k = f"{code_version()}:{key}"
    sql = _MEM.get(k)
    if sql is not None:
        return sql
    if con is not None and persist:
        try:
            row = con.execute("SELECT sql FROM an_sql_cache WHERE key = ?", [k]).fetchone()
        except duckdb.CatalogException:
            row = None
        if row:
            _MEM[k] = row[0]
            return row[0]
    sql = build()
    _MEM[k] = sql
    if con is not None and persist:
        # A read-only connection, or no table yet: memory only.
        with contextlib.suppress(duckdb.CatalogException, duckdb.InvalidInputException):
            con.execute("INSERT OR IGNORE INTO an_sql_cache VALUES (?, ?, now())", [k, sql])
    return sql


def clear_memory() -> None:
    """Forget the in-memory cache (tests)."""
    _MEM.clear()
