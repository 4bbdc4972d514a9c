"""Shared helpers for the macro tests: batch evaluation and input strategies."""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa
from hypothesis import strategies as st

from crossinvest.validation import parsers
from crossinvest.validation.macros import FULLWIDTH, UNIT_ALIASES, WHITESPACE, install_macros

_CON: duckdb.DuckDBPyConnection | None = None


def con() -> duckdb.DuckDBPyConnection:
    """One in-memory connection with the macros, shared by the tests of a process."""
    global _CON
    if _CON is None:
        _CON = duckdb.connect()
        install_macros(_CON)
    return _CON


def run(macro: str, values: list[str | None]) -> list:
    """``macro(s)`` for every value, in one query, in a plain SELECT list (as the loader does)."""
    c = con()
    c.register(
        "_inputs", pa.table({"i": list(range(len(values))), "s": pa.array(values, pa.string())})
    )
    try:
        rows = c.execute(f"SELECT {macro}(s) FROM _inputs ORDER BY i").fetchall()
    finally:
        c.unregister("_inputs")
    out = [r[0] for r in rows]
    # STRUCT results come back as dicts; compare them as tuples.
    return [tuple(v.values()) if isinstance(v, dict) else v for v in out]


def assert_agrees(macro: str, oracle, values: list[str | None]) -> None:
    got = run(macro, values)
    for v, g in zip(values, got, strict=True):
        want = oracle(v)
        assert g == want, f"{macro}({v!r}) = {g!r}, oracle says {want!r}"


# --- strategies ---------------------------------------------------------------

DIGITS = "0123456789"
# Characters that make parsers stumble: separators, units, full-width, letters.
NOISE = DIGITS + "-/.,:年月日至人名%元万 +eE_xX" + "AIOSVZaz" + "（）０９"
_text = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
garbage = st.one_of(
    st.text(_text, max_size=24),
    st.text(st.sampled_from(NOISE), max_size=24),
    st.text(st.sampled_from(WHITESPACE + FULLWIDTH[:20] + "上海a1"), max_size=8),
)


def cleaned(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str | None]:
    """Parsers receive ``ci_clean``-ed input; clean with the oracle."""
    return strategy.map(parsers.clean)


def _pad(n: int, width: int) -> st.SearchStrategy[str]:
    return st.sampled_from([str(n), str(n).zfill(width)])


@st.composite
def date_text(draw) -> str:
    """Any date form of the spec, for real and impossible dates."""
    y = draw(st.integers(900, 10100) | st.integers(1990, 2030))
    m = draw(st.integers(0, 13))
    d = draw(st.integers(0, 32))
    form = draw(st.sampled_from(["-", "/", ".", "cn", "compact", "serial", "dash2"]))
    if form == "compact":
        text = f"{y:04d}{m:02d}{d:02d}"
    elif form == "serial":
        n = draw(st.integers(-5, 3_000_000))
        text = str(n) + draw(st.sampled_from(["", ".0", ".5", ".00"]))
    elif form == "cn":
        text = f"{y}年{draw(_pad(m, 2))}月{draw(_pad(d, 2))}" + draw(st.sampled_from(["日", ""]))
    elif form == "dash2":
        text = f"{y:04d}-{m:02d}-{d:02d}"
    else:
        text = f"{y}{form}{draw(_pad(m, 2))}{form}{draw(_pad(d, 2))}"
    time = draw(
        st.sampled_from(
            ["", " 00:00:00", " 23:59", " 9:05:07", " 24:00:00", " 12:00:00.5", "T00:00:00"]
        )
    )
    return text + time


@st.composite
def number_text(draw) -> str:
    """Numbers as bureaus write them: signs, thousands separators, decimals."""
    n = draw(st.integers(0, 10**12) | st.integers(0, 2000))
    text = f"{n:,}" if draw(st.booleans()) else str(n)
    if draw(st.booleans()):
        text += "." + draw(st.text(st.sampled_from(DIGITS), min_size=1, max_size=3))
    return draw(st.sampled_from(["", "", "-", "+"])) + text


@st.composite
def money_text(draw) -> str:
    unit = draw(st.sampled_from(["", "", *UNIT_ALIASES, "usd", "Rmb", "万万", "元/年", "$"]))
    return draw(number_text()) + draw(st.sampled_from(["", " "])) + unit


@st.composite
def period_text(draw) -> str:
    y, m = draw(st.integers(990, 2100)), draw(st.integers(0, 13))
    form = draw(st.sampled_from(["-", "/", ".", "cn", "compact", "range", "date"]))
    if form == "compact":
        return f"{y:04d}{m:02d}"
    if form == "cn":
        return f"{y}年{draw(_pad(m, 2))}月"
    if form in ("range", "date"):
        a = draw(date_text())
        return (
            a
            if form == "date"
            else a + draw(st.sampled_from(["至", " 至 ", "至至"])) + draw(date_text())
        )
    return f"{y}{form}{draw(_pad(m, 2))}"


def today() -> dt.date:
    return con().execute("SELECT current_date").fetchall()[0][0]
