"""Pure-Python reference implementations of the ``ci_*`` SQL macros.

Used only by the tests, as an oracle: each function has the semantics its
macro promises (see ``validation.macros``), written the obvious way so that a
disagreement points at a bug in the fast SQL. Vocabulary (unit names, regular
expressions, the whitespace set) is shared with the macros; the logic is not.

>>> uscc_valid("91110000600037341L"), parse_ratio("35%"), money_parts("500万元人民币")
(True, 0.35, (500.0, '万元'))
"""

from __future__ import annotations

import datetime as dt
import math
import re

from crossinvest.validation.macros import (
    COUNT_RE,
    DATE_COMPACT_RE,
    DATE_MAX,
    DATE_MIN,
    DATE_SEP_RE,
    EXCEL_SERIAL_MAX,
    EXCEL_SERIAL_RE,
    FULLWIDTH,
    HALFWIDTH,
    INDUSTRY_CODE_RE,
    INDUSTRY_LETTER_RE,
    NUMBER_RE,
    PERIOD_RANGE_SEP,
    PERIOD_RE,
    UNIT_ALIASES,
    WHITESPACE,
    YEAR_MAX,
    YEAR_MIN,
    YEAR_RE,
)

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_FOLD = str.maketrans(FULLWIDTH, HALFWIDTH)
_FIRST_DAY, _LAST_DAY = dt.date.fromisoformat(DATE_MIN), dt.date.fromisoformat(DATE_MAX)
_BIGINT_MAX = 2**63 - 1


def _blank(s: str | None) -> bool:
    return s is None or s.strip(WHITESPACE) == ""


def clean(s: str | None) -> str | None:
    """Fold full-width ASCII and U+3000, strip whitespace; '' -> None."""
    if s is None:
        return None
    return s.translate(_FOLD).strip(WHITESPACE) or None


def uscc_check_char(body: str) -> str:
    """Check character for the first 17 characters of a USCC (GB 32100-2015)."""
    weights = [pow(3, i, 31) for i in range(17)]  # 1, 3, 9, 27, 19, ...
    total = sum(CHARSET.index(c) * w for c, w in zip(body, weights, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def uscc_valid(s: str | None) -> bool | None:
    if _blank(s):
        return None
    assert s is not None
    return len(s) == 18 and all(c in CHARSET for c in s) and uscc_check_char(s[:17]) == s[17]


def resident_id_check_char(body: str) -> str:
    """ISO 7064 MOD 11-2 check character of the first 17 digits of a resident ID."""
    total = sum(int(c) * pow(2, 17 - i, 11) for i, c in enumerate(body))
    return "10X98765432"[total % 11]


def resident_id_valid(s: str | None, today: dt.date | None = None) -> bool | None:
    if _blank(s):
        return None
    assert s is not None
    if len(s) != 18 or any(c not in "0123456789" for c in s[:17]) or s[17] not in "0123456789X":
        return False
    if resident_id_check_char(s[:17]) != s[17]:
        return False
    try:
        born = dt.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return False
    return dt.date(1900, 1, 1) <= born <= (today or dt.date.today())


def _in_range(d: dt.date | None) -> dt.date | None:
    return d if d is not None and _FIRST_DAY <= d <= _LAST_DAY else None


def _date(y: str, m: str, d: str) -> dt.date | None:
    try:
        return _in_range(dt.date(int(y), int(m), int(d)))
    except ValueError:
        return None


def parse_date(s: str | None) -> dt.date | None:
    if _blank(s):
        return None
    assert s is not None
    if re.fullmatch(DATE_SEP_RE, s):
        y, m, d = re.findall(r"[0-9]+", s.split(" ")[0])
        return _date(y, m, d)
    if re.fullmatch(DATE_COMPACT_RE, s):
        return _date(s[:4], s[4:6], s[6:8])
    if re.fullmatch(EXCEL_SERIAL_RE, s):
        n = float(s)
        if 1 <= n < EXCEL_SERIAL_MAX + 1:
            return dt.date(1899, 12, 30) + dt.timedelta(days=math.floor(n))
    return None


def money_parts(s: str | None) -> tuple[float | None, str] | None:
    """(number, normalised unit); number None when the text is not a number."""
    if _blank(s):
        return None
    assert s is not None
    m = re.match(NUMBER_RE + " *", s)  # the number and the spaces after it
    n = m.group(0) if m else ""
    num = float(n.replace(",", "")) if n else None
    raw = s[len(n) :]
    units = {"": "", **UNIT_ALIASES}
    return num, units.get(raw) or units.get(raw.upper()) or raw


def parse_ratio(s: str | None) -> float | None:
    parts = money_parts(s)
    if parts is None or parts[0] is None:
        return None
    num, unit = parts
    assert num is not None  # checked above
    if unit == "%":
        return num / 100
    if unit == "":
        return num if num <= 1 else num / 100
    return None


def _date_no_serial(s: str) -> dt.date | None:
    return None if re.fullmatch(EXCEL_SERIAL_RE, s) else parse_date(s)


def parse_period(s: str | None) -> dt.date | None:
    """First day of the month the text names; a range must lie within one month."""
    if _blank(s):
        return None
    assert s is not None
    if PERIOD_RANGE_SEP in s:
        parts = s.split(PERIOD_RANGE_SEP)
        if len(parts) != 2:
            return None
        a, b = (_date_no_serial(p.strip(" ")) for p in parts)
        if a is None or b is None or a > b or (a.year, a.month) != (b.year, b.month):
            return None
        return a.replace(day=1)
    if re.fullmatch(PERIOD_RE, s):
        y, m = (s[:4], s[4:]) if len(s) == 6 else re.findall(r"[0-9]+", s)
        return _date(y, m, "1")
    d = _date_no_serial(s)
    return d.replace(day=1) if d else None


def parse_year(s: str | None) -> int | None:
    if _blank(s):
        return None
    assert s is not None
    if re.fullmatch(YEAR_RE, s) and YEAR_MIN <= int(s[:4]) <= YEAR_MAX:
        return int(s[:4])
    return None


def parse_count(s: str | None) -> int | None:
    if _blank(s):
        return None
    assert s is not None
    if not re.fullmatch(COUNT_RE, s):
        return None
    n = int(re.match(r"[0-9,]+", s).group(0).replace(",", ""))  # type: ignore[union-attr]
    return n if n <= _BIGINT_MAX else None


def industry_parts(s: str | None) -> tuple[str | None, str | None] | None:
    if _blank(s):
        return None
    assert s is not None
    if re.fullmatch(INDUSTRY_CODE_RE, s):
        return None, s
    if re.fullmatch(INDUSTRY_LETTER_RE, s):
        return s[0].upper(), re.search(r"[0-9]+$", s).group(0)  # type: ignore[union-attr]
    return None, None


def division_from_uscc(s: str | None) -> str | None:
    if _blank(s):
        return None
    assert s is not None
    return s[2:8] if len(s) >= 8 else None
