"""Staging an XLSX delivery (first sheet) through python-calamine and Arrow.

Title rows and blank rows may stand above the header; the header is the row among
the first ``HEADER_SEARCH_ROWS`` that matches most of the source's fields. Cells
become text the way a person reads them in Excel: dates as YYYY-MM-DD, numbers
without exponent or a trailing '.0'. Rows are converted and handed to DuckDB in
Arrow batches as they are read, so no full copy of the sheet is built in Python.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from python_calamine import CalamineWorkbook, PasswordError

from crossinvest.readers.base import (
    FileRefused,
    StagedFile,
    drop_table,
    provisional_extra_name,
    scalar,
    settle_extras,
    temp_table,
)
from crossinvest.readers.headers import (
    best_any_source,
    check_header,
    header_plausible,
)
from crossinvest.sources import Source

HEADER_SEARCH_ROWS = 30
BATCH_ROWS = 50_000


def _float_text(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    text = repr(value)  # the shortest text that round-trips
    if "e" in text:
        # Decimal lays an exponent form out positionally; normalize() drops '.0'.
        return format(Decimal(text).normalize(), "f")
    return text[:-2] if text.endswith(".0") else text


def cell_text(value: object) -> str | None:
    """One XLSX cell as delivered text; None for an empty cell.

    >>> [cell_text(v) for v in (1234.0, 0.35, 12345678901.5, 1e-7, dt.date(2018, 3, 5), "0123", "")]
    ['1234', '0.35', '12345678901.5', '0.0000001', '2018-03-05', '0123', None]
    """
    kind = type(value)
    if kind is str:
        return value or None  # type: ignore[return-value]
    if kind is float:
        return _float_text(value)  # type: ignore[arg-type]
    if value is None:
        return None
    if isinstance(value, bool):  # before int: bool is an int
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, dt.datetime):  # before date: datetime is a date
        return value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _row_text(raw: list[Any]) -> list[str | None]:
    # Text cells are most of a sheet: keep them off the function-call path.
    return [v if type(v) is str and v else cell_text(v) for v in raw]


def _is_blank(cells: list[str | None]) -> bool:
    return all(c is None or not c.strip() for c in cells)


def _open_rows(path: Path) -> Iterator[list[Any]]:
    try:
        wb = CalamineWorkbook.from_path(str(path))
        if not wb.sheet_names:
            raise FileRefused(path, "工作簿中没有工作表")
        sheet = wb.get_sheet_by_index(0)
        return iter(sheet.iter_rows())
    except FileRefused:
        raise
    except PasswordError:
        raise FileRefused(path, "工作簿受密码保护，无法读取") from None
    except Exception as e:  # calamine raises several unrelated types for a broken zip
        raise FileRefused(
            path, f"不是有效的 xlsx 文件，已损坏或被截断（{type(e).__name__}）"
        ) from None


def _find_header(source: Source, first_rows: list[list[str | None]], path: Path) -> int:
    """Index in ``first_rows`` of the header row, or refuse: see module doc."""
    texts = [[c or "" for c in row] for row in first_rows]
    own = [header_plausible(source, row) for row in texts]
    if own and max(own) > 0:
        return own.index(max(own))
    # No row fits this source; take the row that fits any source best, so the
    # refusal can name the source the file really is.
    other = [best_any_source(row) for row in texts]
    if other and max(other) > 0:
        return other.index(max(other))
    raise FileRefused(
        path, f"在第一个工作表的前 {HEADER_SEARCH_ROWS} 行中找不到表头，可能不是数据表格"
    )


def stage_xlsx(
    con: duckdb.DuckDBPyConnection, source: Source, path: Path, *, table: str, tmp_dir: Path
) -> StagedFile:
    """Stage the first sheet of an .xlsx file; see ``crossinvest.readers.stage_file``."""
    rows_iter = _open_rows(path)
    first: list[list[str | None]] = []
    try:
        for raw in rows_iter:
            first.append(_row_text(raw))
            if len(first) >= HEADER_SEARCH_ROWS:
                break
    except Exception as e:
        raise FileRefused(path, f"读取工作表失败，文件可能已损坏（{type(e).__name__}）") from None
    if not first or all(_is_blank(r) for r in first):
        raise FileRefused(path, "第一个工作表为空")

    h = _find_header(source, first, path)
    headers = [c if c is not None else "" for c in first[h]]
    m = check_header(source, headers, path)
    width = len(headers)

    # Columns in source field order, then the unmatched ones in sheet order.
    fields = [(f.name, m.field_index[f.name]) for f in m.source.fields if f.name in m.field_index]
    # Unmatched columns with no header text are kept only if some row fills them.
    extras = list(m.extra_index)
    filled: set[int] = set()
    provisional = [provisional_extra_name(k) for k in range(len(extras))]
    schema = pa.schema(
        [("_row", pa.int64())]
        + [(name, pa.string()) for name, _ in fields]
        + [(name, pa.string()) for name in provisional]
    )
    order = [i for _, i in fields] + extras

    # DuckDB reports an exception raised while it pulls batches only as text, so
    # the generator keeps the original for us.
    failure: list[BaseException] = []

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            yield from _batches()
        except BaseException as e:
            failure.append(e)
            raise

    def _batches() -> Iterator[pa.RecordBatch]:
        done = 0
        pending: list[list[str | None]] = []

        def flush() -> pa.RecordBatch:
            nonlocal done
            columns = list(zip(*pending, strict=True))
            arrays = [pa.array(range(done + 1, done + len(pending) + 1), pa.int64())]
            arrays += [pa.array(columns[i], pa.string()) for i in order]
            for i in extras:
                if i not in filled and any(v is not None for v in columns[i]):
                    filled.add(i)
            done += len(pending)
            pending.clear()
            return pa.RecordBatch.from_arrays(arrays, schema=schema)

        def rest() -> Iterator[list[str | None]]:
            yield from first[h + 1 :]
            for raw in rows_iter:
                yield _row_text(raw)

        for cells in rest():
            if len(cells) != width:  # calamine rows are full width; be safe anyway
                cells = (cells + [None] * width)[:width]
            first_cell = cells[0]
            if (first_cell is None or not first_cell.strip()) and _is_blank(cells):
                continue
            pending.append(cells)
            if len(pending) >= BATCH_ROWS:
                yield flush()
        if pending:
            yield flush()

    view = f"_readers_src_{uuid.uuid4().hex}"
    try:
        try:
            reader = pa.RecordBatchReader.from_batches(schema, batches())
            # DuckDB 2 refuses register() while a result of an earlier execute()
            # is unfinished (e.g. the caller's fetchone()); a finished statement
            # closes it.
            con.execute("SELECT 1").fetchall()
            con.register(view, reader)
            con.execute(f"CREATE OR REPLACE TEMP TABLE {temp_table(table)} AS SELECT * FROM {view}")
        except duckdb.Error:
            if failure and isinstance(failure[0], FileRefused):
                raise failure[0] from None
            if failure and isinstance(failure[0], Exception):
                raise FileRefused(
                    path, f"读取工作表失败，文件可能已损坏（{type(failure[0]).__name__}）"
                ) from None
            raise
        finally:
            with contextlib.suppress(duckdb.Error):
                con.unregister(view)
        tq = temp_table(table)
        extra_columns = settle_extras(
            con,
            table,
            [headers[i] for i in extras],
            {k for k, i in enumerate(extras) if i in filled},
        )
        rows = scalar(con, f"SELECT count(*) FROM {tq}")
    except BaseException:
        drop_table(con, table)
        raise

    return StagedFile(
        table=table,
        rows=int(rows),
        file_format="xlsx",
        encoding="xlsx",
        columns={name: headers[i] for name, i in m.field_index.items()},
        extra_columns=extra_columns,
    )
