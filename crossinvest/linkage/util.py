"""Small SQL helpers that always finish their result.

DuckDB 2.0 refuses new work on a connection while an ``execute()`` result is
still open, and a ``fetchone()`` leaves it open; Splink then fails on its next
query. These fetch everything.
"""

from __future__ import annotations

from typing import Any

import duckdb

from crossinvest.warehouse.connection import run


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> Any:
    """The first column of the first row of ``sql`` (None when there is no row)."""
    rows = run(con, sql, params).fetchall()
    return rows[0][0] if rows else None


def first(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> tuple | None:
    """The first row of ``sql``, or None."""
    rows = run(con, sql, params).fetchall()
    return rows[0] if rows else None
