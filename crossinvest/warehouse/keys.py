"""Natural keys: a later delivery with the same key supersedes the earlier row.

Superseded versions stay in the source table with ``is_current = false`` (the
history); rollback re-elects the latest remaining version of each key.
"""

from __future__ import annotations

import duckdb

from crossinvest.sources import Source
from crossinvest.warehouse.connection import fetch_one, run


def _key_match(source: Source, left: str, right: str) -> str:
    return " AND ".join(f"{left}.{k} = {right}.{k}" for k in source.key)


def retire_superseded(con: duckdb.DuckDBPyConnection, source: Source, typed: str) -> int:
    """Mark current rows whose key the new batch delivers again as no longer current."""
    if not fetch_one(con, f"SELECT EXISTS (SELECT 1 FROM {source.table} WHERE is_current)")[0]:  # type: ignore[index]
        return 0  # first delivery: nothing to supersede, skip the join
    keys = ", ".join(source.key)
    cur = run(
        con,
        f"""
        UPDATE {source.table} AS t SET is_current = false
        FROM (SELECT DISTINCT {keys} FROM {typed} WHERE _err = 0) AS n
        WHERE t.is_current AND {_key_match(source, "t", "n")}
        """,
    )
    row = cur.fetchone() if cur.description else None
    return row[0] if row else 0


def reelect_current(con: duckdb.DuckDBPyConnection, source: Source, affected: str) -> None:
    """For each key in table ``affected`` with no current row, make its latest version current."""
    run(
        con,
        f"""
        UPDATE {source.table} SET is_current = true
        WHERE rowid IN (
            SELECT arg_max(t.rowid, t.batch_id * 10000000000 + t.row_no)
            FROM {source.table} t JOIN {affected} a ON {_key_match(source, "t", "a")}
            GROUP BY {", ".join("t." + k for k in source.key)}
            HAVING NOT bool_or(t.is_current)
        )
        """,
    )
