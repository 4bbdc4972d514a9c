"""What a reader hands back: a staged table, or a refusal of the whole file."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb


class FileRefused(Exception):
    """The file is refused whole; nothing of it is staged.

    ``str(e)`` is one line in Simplified Chinese naming the file's base name and
    what is wrong, e.g. ``文件 tax.csv：缺少必填列「实缴税额」(tax_paid)``.
    It never quotes cell contents (a cell may hold a resident ID number).
    """

    def __init__(self, path: Path | str, reason: str):
        self.file = Path(path).name
        # One line, whatever the reason text carried.
        self.reason = " ".join(str(reason).split())
        super().__init__(f"文件 {self.file}：{self.reason}")


@dataclass
class StagedFile:
    """One delivered file staged as a DuckDB table of raw text.

    ``extra_columns[i]`` is stored in the table column ``x_{i}`` (0-based, the
    same as ``extra_table_columns[i]``).
    """

    table: str
    rows: int
    file_format: str  # 'csv' | 'tsv' | 'xlsx'
    encoding: str  # 'utf-8' | 'utf-8-sig' | 'gb18030' | 'xlsx'
    columns: dict[str, str]  # Field.name -> header text as delivered
    extra_columns: list[str] = field(default_factory=list)

    @property
    def extra_table_columns(self) -> list[str]:
        """Table column names of ``extra_columns``, in the same order."""
        return [extra_column_name(i) for i in range(len(self.extra_columns))]


def extra_column_name(index: int) -> str:
    """Name of the ``index``-th (0-based) unmatched column in the staging table.

    >>> extra_column_name(0)
    'x_0'
    """
    return f"x_{index}"


def provisional_extra_name(index: int) -> str:
    """Column name of the ``index``-th unmatched column until ``settle_extras`` runs."""
    return f"_extra_{index}"


def settle_extras(
    con: duckdb.DuckDBPyConnection,
    table: str,
    headers: list[str],
    filled: set[int] | None = None,
) -> list[str]:
    """Name the unmatched columns ``x_0``, ``x_1``, … and return their headers.

    A column whose header is blank is dropped when no row fills it (a trailing
    delimiter in the header, a formatted but empty spreadsheet column); every
    other unmatched column is kept. ``filled`` holds the indexes of those known
    to have a value; when None, the table is asked.
    """
    tq = temp_table(table)
    blank = [k for k, h in enumerate(headers) if not h.strip()]
    if blank and filled is None:
        counts = con.execute(
            "SELECT "
            + ", ".join(f"count({provisional_extra_name(k)})" for k in blank)
            + f" FROM {tq}"
        ).fetchall()[0]
        filled = {k for k, n in zip(blank, counts, strict=True) if n}
    kept: list[str] = []
    for k, header in enumerate(headers):
        old = provisional_extra_name(k)
        if header.strip() or k in (filled or set()):
            new = quote_ident(extra_column_name(len(kept)))
            con.execute(f"ALTER TABLE {tq} RENAME COLUMN {old} TO {new}")
            kept.append(header)
        else:
            con.execute(f"ALTER TABLE {tq} DROP COLUMN {old}")
    return kept


def quote_ident(name: str) -> str:
    """Quote a DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def temp_table(name: str) -> str:
    """``name`` as the fully qualified TEMP table, so that a warehouse table of the
    same name is never touched (an unqualified name can resolve to either).

    >>> temp_table("stg")
    'temp.main."stg"'
    """
    return f"temp.main.{quote_ident(name)}"


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    """The single value of ``sql``, fetched to the end.

    DuckDB 2 keeps a result open until a fetch returns nothing, and an open result
    blocks ``register()`` on the connection: ``fetchone()`` would leave it open
    for the caller.
    """
    return con.execute(sql).fetchall()[0][0]


def drop_table(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Drop the TEMP table ``table`` if it exists; never raise (used while failing)."""
    with contextlib.suppress(duckdb.Error):
        con.execute(f"DROP TABLE IF EXISTS {temp_table(table)}")
