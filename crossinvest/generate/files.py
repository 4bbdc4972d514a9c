"""Delivery files: names, encodings, header spellings and the writers.

With noise on, the files differ the way real deliveries do (data-interface.md):
one GB18030 file, one UTF-8 file with BOM, English alias headers in one file,
bracketed units and stray spaces in others, an unknown extra column.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa

from crossinvest.generate import render
from crossinvest.generate.noise import FileLog
from crossinvest.sources import SOURCES

XLSX_MAX_ENTERPRISES = 50_000


def canonical(source: str, fields: tuple[str, ...]) -> list[str]:
    return [SOURCES[source].field(f).canonical for f in fields]


def headers(source: str, fields: tuple[str, ...], variant: str) -> list[str]:
    """Header row for a file; ``variant`` names the deviation ('' = canonical)."""
    names = canonical(source, fields) if variant != "english" else list(fields)
    if variant == "english":
        return names
    out = []
    for f, h in zip(fields, names, strict=True):
        if variant == "registry" and f == "registered_capital":
            h = "注册资本（万元）"
        elif variant == "registry" and f == "address":
            h = "address"
        elif variant == "shareholders" and f in ("subscribed_capital", "paid_capital"):
            h += "（万元）"
        elif variant == "shareholders" and f == "investor_name":
            h = "\u3000" + h  # a full-width space before the name
        elif variant == "spaces" and f == "taxpayer_id":
            h = f" {h} "
        elif variant in ("spaces", "unit") and f == "tax_paid":
            h += "（元）" if variant == "spaces" else "(元)"
        elif variant == "stats" and f in ("revenue", "profit", "total_assets"):
            h += "（千元）"
        out.append(h)
    if variant == "stats":
        out.append("备注")
    return out


def positions(fields: tuple[str, ...], names: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(fields.index(n) for n in names)


class DelimitedWriter:
    """CSV/TSV written chunk by chunk, re-encoded when the file is not UTF-8."""

    def __init__(self, path: Path, log: FileLog, free_text: tuple[int, ...] | None = None) -> None:
        self.path = path
        self.free_text = free_text
        self.log = log
        self.delimiter = log.delimiter or ","
        self.encoding = log.encoding
        self.fh = path.open("wb")
        if self.encoding == "utf-8-sig":
            self.fh.write(b"\xef\xbb\xbf")
        self._write((self.delimiter.join(log.header) + "\n").encode("utf-8"))

    def _write(self, data: bytes) -> None:
        if self.encoding == "gb18030":
            data = data.decode("utf-8").encode("gb18030")
        self.fh.write(data)

    def write(self, columns: list[pa.Array]) -> None:
        """Append rows. Only the ``free_text`` columns (names, addresses, amounts
        with separators) are checked for quoting; None checks every column."""
        if not columns or len(columns[0]) == 0:
            return
        check = range(len(columns)) if self.free_text is None else self.free_text
        safe = [
            render.csv_safe(c, self.delimiter) if i in check else c for i, c in enumerate(columns)
        ]
        self._write(render.lines(safe, self.delimiter))
        self.log.rows += len(columns[0])

    def close(self) -> None:
        self.fh.close()


class XlsxRegistryWriter:
    """registry.xlsx: a title row and a blank row above the header, mixed cell types.

    xlsxwriter's constant_memory mode flushes each row, so memory stays flat.
    Every text cell goes through write_string: a cell starting with '=' is data.
    """

    def __init__(self, path: Path, log: FileLog, title: str, year: int) -> None:
        import xlsxwriter

        self.log = log
        self.wb = xlsxwriter.Workbook(
            str(path),
            {
                "constant_memory": True,
                "strings_to_numbers": False,
                "strings_to_formulas": False,
                "strings_to_urls": False,
            },
        )
        # Fixed document dates keep the file byte-identical from run to run.
        self.wb.set_properties({"created": dt.datetime(year + 1, 1, 5, 9, 0, 0)})
        self.ws = self.wb.add_worksheet("Sheet1")
        self.date_fmt = self.wb.add_format({"num_format": "yyyy-mm-dd"})
        self.ws.write_string(0, 0, title)
        for c, h in enumerate(log.header):
            self.ws.write_string(2, c, h)
        self.row = 3

    def write(
        self, columns: list[pa.Array], fields: tuple[str, ...], typed: dict[str, np.ndarray]
    ) -> None:
        values = [c.to_pylist() for c in columns]
        est_col = fields.index("established_on")
        cap_col = fields.index("registered_capital")
        est = typed["est"].astype("datetime64[D]").astype(dt.date)
        for i in range(len(values[0])):
            for c, col in enumerate(values):
                v = col[i]
                if c == est_col and typed["date_cell"][i]:
                    d = est[i]
                    self.ws.write_datetime(
                        self.row, c, dt.datetime(d.year, d.month, d.day), self.date_fmt
                    )
                elif c == cap_col and typed["number_cell"][i]:
                    self.ws.write_number(self.row, c, float(typed["capital"][i]))
                elif v:
                    self.ws.write_string(self.row, c, v)
            self.row += 1
        self.log.rows += len(values[0])

    def close(self) -> None:
        self.wb.close()
