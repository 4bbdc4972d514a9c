"""Statistical periods: a year (``2018``), a quarter (``2018Q3``) or a month (``2018-07``).

A period's end date is its reference date (definitions.md, "Periods"). Months are
handled as integers ``YYYYMM`` ("ym") everywhere in the statistics: they order
correctly, read well, and behave the same on DuckDB and Spark.

>>> p = parse_period("2018Q3")
>>> (p.label, p.start_ym, p.end_ym, str(p.reference_date), p.year)
('2018Q3', 201807, 201809, '2018-09-30', 2018)
>>> parse_period("2018-7").label
'2018-07'
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

_YEAR = re.compile(r"^(\d{4})$", re.ASCII)
_QUARTER = re.compile(r"^(\d{4})[Qq]([1-4])$", re.ASCII)
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$", re.ASCII)

MIN_YEAR, MAX_YEAR = 1949, 2100


class PeriodError(ValueError):
    """A period string that is not a year, quarter or month (message in Chinese)."""


@dataclass(frozen=True)
class Period:
    """One statistical period.

    ``start_ym``/``end_ym`` are the first and last month (YYYYMM); the reference
    date is the last day of ``end_ym``.
    """

    kind: str  # 'year' | 'quarter' | 'month'
    label: str
    year: int
    start_ym: int
    end_ym: int

    @property
    def reference_date(self) -> date:
        y, m = divmod(self.end_ym, 100)
        return date(y, m, calendar.monthrange(y, m)[1])

    @property
    def start_date(self) -> date:
        y, m = divmod(self.start_ym, 100)
        return date(y, m, 1)

    @property
    def months(self) -> list[int]:
        """Every month of the period as YYYYMM."""
        return [self.year * 100 + m for m in range(self.start_ym % 100, self.end_ym % 100 + 1)]


def parse_period(text: str) -> Period:
    """Parse ``2018``, ``2018Q3`` or ``2018-07``; raise ``PeriodError`` otherwise."""
    s = (text or "").strip()
    if m := _YEAR.match(s):
        y = _check_year(int(m[1]), text)
        return Period("year", f"{y}", y, y * 100 + 1, y * 100 + 12)
    if m := _QUARTER.match(s):
        y, q = _check_year(int(m[1]), text), int(m[2])
        return Period("quarter", f"{y}Q{q}", y, y * 100 + 3 * q - 2, y * 100 + 3 * q)
    if m := _MONTH.match(s):
        y, mo = _check_year(int(m[1]), text), int(m[2])
        if 1 <= mo <= 12:
            return Period("month", f"{y}-{mo:02d}", y, y * 100 + mo, y * 100 + mo)
    raise PeriodError(f"期间格式错误「{text}」：应为年（2018）、季度（2018Q3）或月份（2018-07）")


def _check_year(y: int, text: str) -> int:
    if not MIN_YEAR <= y <= MAX_YEAR:
        raise PeriodError(f"期间年份超出范围「{text}」：应在 {MIN_YEAR}–{MAX_YEAR} 之间")
    return y


def ym_of(d: date) -> int:
    """The YYYYMM of a date."""
    return d.year * 100 + d.month
