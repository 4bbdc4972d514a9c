"""Deviations injected into deliveries, and the log of where they went.

Each output file has a :class:`FileLog`. A chunk of rows passes through
:func:`finish_chunk`, which (when noise is on) turns a few rows into bad rows
(quarantined by a correct loader), a few into rows with a wrong secondary field
(loaded with a warning), and repeats a few rows at the end of the chunk. The
log records every such row by its data-row number (1-based, header excluded),
so the manifest can say exactly what a loader must find.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from crossinvest.generate.codes import USCC_ALPHABET
from crossinvest.generate.rand import Rng
from crossinvest.generate.render import scatter

BAD_RATE = 0.002
WARN_RATE = 0.002
DUP_RATE = 0.002


@dataclass
class FileLog:
    """What one delivered file holds."""

    file: str
    source: str
    encoding: str
    delimiter: str | None
    header: list[str]
    header_line: int  # 1-based line (or sheet row) of the header
    rows: int = 0
    generated: int = 0  # base rows generated (before repeats), keys the noise draws
    bad: list[tuple[int, str, str]] = field(default_factory=list)
    warnings: list[tuple[int, str, str]] = field(default_factory=list)
    duplicates: list[tuple[int, str, int]] = field(default_factory=list)
    formula_cells: list[tuple[int, str]] = field(default_factory=list)
    corrections: list[tuple[int, str, int]] = field(default_factory=list)
    truth_rows: int = 0

    def as_json(self) -> dict:
        return {
            "source": self.source,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "header": self.header,
            "header_line": self.header_line,
            "rows": self.rows,
            "bad_rows": [{"row": r, "column": c, "kind": k} for r, c, k in self.bad],
            "warning_rows": [{"row": r, "column": c, "kind": k} for r, c, k in self.warnings],
            "duplicates": [
                {"row": r, "same_as": {"file": f, "row": s}} for r, f, s in self.duplicates
            ],
            "formula_cells": [{"row": r, "column": c} for r, c in self.formula_cells],
            "corrections": [
                {"row": r, "supersedes": {"file": f, "row": s}} for r, f, s in self.corrections
            ],
            "truth_rows": self.truth_rows,
        }


# A defect: kind name, the column it is reported against, and a function that
# rewrites the selected rows (a dict column -> list of cell strings).
Apply = Callable[[dict[str, list[str]], int], None]


@dataclass(frozen=True)
class Defect:
    kind: str
    column: str
    apply: Apply


def _shift_check(values: list[str]) -> list[str]:
    out = []
    for v in values:
        last = (
            USCC_ALPHABET[(USCC_ALPHABET.index(v[-1]) + 1) % len(USCC_ALPHABET)]
            if v[-1] in USCC_ALPHABET
            else "0"
        )
        out.append(v[:-1] + last)
    return out


def check_char(column: str) -> Defect:
    def apply(cells, year):
        cells[column] = _shift_check(cells[column])

    return Defect("check_char", column, apply)


def set_value(
    kind: str, column: str, value: Callable[[str, int], str], also: tuple[str, ...] = ()
) -> Defect:
    """A defect that rewrites ``column`` (and blanks the ``also`` columns)."""

    def apply(cells, year):
        cells[column] = [value(v, year) for v in cells[column]]
        for other in also:
            cells[other] = [""] * len(cells[other])

    return Defect(kind, column, apply)


def chunk_noise(
    rng: Rng,
    log: FileLog,
    columns: dict[str, pa.Array],
    eligible: np.ndarray,
    defects: tuple[Defect, ...],
    warnings: tuple[Defect, ...],
    year: int,
    first_chunk: bool,
) -> tuple[dict[str, pa.Array], np.ndarray, np.ndarray]:
    """Apply bad rows and warnings to base rows; choose rows to repeat.

    Returns the new columns, the mask of rows changed, and the positions to
    repeat at the end of the chunk. Row numbers are logged assuming the chunk is
    written next, base rows first, then the repeats.
    """
    n = len(eligible)
    keys = log.generated + np.arange(n)
    stream = log.file
    free = eligible.copy()

    u_dup = rng.uniform(stream + "/dup", keys)
    dup = free & (u_dup < DUP_RATE)
    if first_chunk and not dup.any() and free.any():
        dup[np.flatnonzero(free)[np.argmin(u_dup[free])]] = True
    free &= ~dup

    changed = np.zeros(n, dtype=bool)
    for group, rate, target, salt in (
        (defects, BAD_RATE, log.bad, "/bad"),
        (warnings, WARN_RATE, log.warnings, "/warn"),
    ):
        if not group:
            continue
        u = rng.uniform(stream + salt, keys)
        pick = free & (u < rate)
        kind = (rng.bits(stream + salt + "/kind", keys) % np.uint64(len(group))).astype(np.int64)
        if first_chunk:
            # Every kind at least once: the lowest draws among the free rows.
            cand = np.flatnonzero(free & ~pick)
            cand = cand[np.argsort(u[cand], kind="stable")][: len(group)]
            pick[cand] = True
            kind[cand] = np.arange(len(cand))
        for k, defect in enumerate(group):
            pos = np.flatnonzero(pick & (kind == k))
            if len(pos) == 0:
                continue
            cells = {c: columns[c].take(pa.array(pos)).to_pylist() for c in columns}
            defect.apply(cells, year)
            for c, values in cells.items():
                if values != columns[c].take(pa.array(pos)).to_pylist():
                    columns[c] = scatter(columns[c], pos, pa.array(values, pa.string()))
            target.extend((log.rows + int(p) + 1, defect.column, defect.kind) for p in pos)
        changed |= pick
        free &= ~pick
    return columns, changed, np.flatnonzero(dup)


def log_repeats(log: FileLog, n_base: int, positions: np.ndarray, extra_start: int = 0) -> None:
    """Record repeated rows appended after ``n_base`` base rows of this chunk."""
    for j, p in enumerate(positions):
        log.duplicates.append(
            (log.rows + n_base + extra_start + j + 1, log.file, log.rows + int(p) + 1)
        )


def apply_noise(
    rng: Rng,
    year: int,
    log: FileLog,
    cols: dict[str, pa.Array],
    eligible: np.ndarray,
    noise: bool,
    defects: tuple[Defect, ...],
    warnings: tuple[Defect, ...],
    first: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Inject defects into ``cols`` in place; return (changed mask, rows to repeat)."""
    n = len(eligible)
    if not noise:
        log.generated += n
        return np.zeros(n, dtype=bool), np.zeros(0, dtype=np.int64)
    new, changed, dups = chunk_noise(rng, log, cols, eligible, defects, warnings, year, first)
    cols.update(new)
    log.generated += n
    return changed, dups
