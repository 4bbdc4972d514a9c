"""Table exports: CSV for any tool, XLSX for Excel; both safe to open.

A cell that starts with ``=``, ``+``, ``-``, ``@``, tab or carriage return is a
formula to a spreadsheet (CSV injection). CSV text cells like that get a
leading ``'``; numbers stay numbers. XLSX cells are typed: numbers as numbers,
text always written as a string (never parsed as a formula or URL).

>>> neutralise("=1+1"), neutralise("-12"), neutralise("浙江省"), neutralise(-12.5)
("'=1+1", "'-12", '浙江省', -12.5)
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from typing import Any

import xlsxwriter

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")

Column = tuple[str, str]  # (key in the row dict, header shown)


def neutralise(value: Any) -> Any:
    """Make a text cell inert for spreadsheets; leave numbers and None alone."""
    if isinstance(value, str) and value.startswith(DANGEROUS):
        return "'" + value
    return value


def _cell_text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (list, dict)):
        import json

        return json.dumps(value, ensure_ascii=False)
    return str(value)


def to_csv(columns: Sequence[Column], rows: Iterable[dict[str, Any]]) -> bytes:
    """UTF-8 CSV with a BOM (so Excel reads Chinese), header row of ``columns``' labels."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([neutralise(label) for _, label in columns])
    for row in rows:
        w.writerow([neutralise(_cell_text(row.get(key))) for key, _ in columns])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(
    columns: Sequence[Column], rows: Iterable[dict[str, Any]], *, sheet: str = "数据"
) -> bytes:
    """An XLSX workbook: Chinese headers, typed numeric cells, text never a formula."""
    out = io.BytesIO()
    # strings_to_formulas/urls/numbers off: every text cell is stored as text.
    wb = xlsxwriter.Workbook(
        out,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    ws = wb.add_worksheet(sheet[:31])
    head = wb.add_format({"bold": True, "bg_color": "#E8EEF7", "border": 1})
    number = wb.add_format({"num_format": "#,##0.00"})
    integer = wb.add_format({"num_format": "#,##0"})
    widths = [max(8, len(label) * 2 + 2) for _, label in columns]
    for c, (_, label) in enumerate(columns):
        ws.write_string(0, c, label, head)
    for r, row in enumerate(rows, start=1):
        for c, (key, _) in enumerate(columns):
            v = _cell_text(row.get(key))
            if v == "":
                ws.write_blank(r, c, None)
            elif isinstance(v, bool) or not isinstance(v, (int, float)):
                ws.write_string(r, c, str(v))
                widths[c] = min(60, max(widths[c], len(str(v)) * 2))
            elif isinstance(v, int):
                ws.write_number(r, c, v, integer)
            else:
                ws.write_number(r, c, v, number)
                widths[c] = max(widths[c], 14)
    for c, w in enumerate(widths):
        ws.set_column(c, c, w)
    ws.freeze_panes(1, 0)
    wb.close()
    return out.getvalue()


MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def export_bytes(fmt: str, columns: Sequence[Column], rows: Iterable[dict[str, Any]]) -> bytes:
    return to_csv(columns, rows) if fmt == "csv" else to_xlsx(columns, rows)


def content_disposition(stem: str, fmt: str) -> str:
    """Header value with an ASCII fallback and the UTF-8 name (RFC 6266)."""
    from urllib.parse import quote

    ascii_stem = "".join(
        ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "_" for ch in stem
    )
    return f"attachment; filename=\"{ascii_stem}.{fmt}\"; filename*=UTF-8''{quote(stem)}.{fmt}"
