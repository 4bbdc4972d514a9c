"""The parsing macros agree with their pure-Python oracle on every input form.

Each Hypothesis example is a batch of values evaluated in one query, so a run
covers thousands of values in a few seconds.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossinvest.validation import parsers
from crossinvest.validation.macros import MACROS, WHITESPACE, install_macros
from tests.test_macros_support import (
    assert_agrees,
    cleaned,
    date_text,
    garbage,
    money_text,
    number_text,
    period_text,
    run,
)

BATCH = {"min_size": 1, "max_size": 60}
FAST = settings(max_examples=60, deadline=None)


@FAST
@given(st.lists(cleaned(date_text() | garbage), **BATCH))
def test_parse_date_agrees(values):
    assert_agrees("ci_parse_date", parsers.parse_date, values)


@FAST
@given(st.lists(cleaned(money_text() | garbage), **BATCH))
def test_money_parts_agrees(values):
    assert_agrees("ci_money_parts", parsers.money_parts, values)


@FAST
@given(st.lists(cleaned(money_text() | number_text().map(lambda n: n + "%") | garbage), **BATCH))
def test_parse_ratio_agrees(values):
    assert_agrees("ci_parse_ratio", parsers.parse_ratio, values)


@FAST
@given(st.lists(cleaned(period_text() | garbage), **BATCH))
def test_parse_period_agrees(values):
    assert_agrees("ci_parse_period", parsers.parse_period, values)


_year = (
    st.integers(1900, 2200)
    .map(str)
    .flatmap(lambda y: st.sampled_from([y, y + "年", y + ".0", y + ".00", y + ".5"]))
)


@FAST
@given(st.lists(cleaned(_year | garbage), **BATCH))
def test_parse_year_agrees(values):
    assert_agrees("ci_parse_year", parsers.parse_year, values)


_count = number_text().flatmap(
    lambda n: st.sampled_from([n, n + "人", n + "名", n + ".0", n + "个"])
)


@FAST
@given(st.lists(cleaned(_count | garbage), **BATCH))
def test_parse_count_agrees(values):
    assert_agrees("ci_parse_count", parsers.parse_count, values)


_industry = st.tuples(
    st.sampled_from(["", "I", "i", "C", "z", "1", "-"]),
    st.sampled_from(["", " ", "-", "  "]),
    st.text(st.sampled_from("0123456789"), min_size=1, max_size=5),
).map("".join)


@FAST
@given(st.lists(cleaned(_industry | garbage), **BATCH))
def test_industry_parts_agrees(values):
    assert_agrees("ci_industry_parts", parsers.industry_parts, values)


@FAST
@given(st.lists(cleaned(st.text("0123456789ABCDMNQ", max_size=20) | garbage), **BATCH))
def test_division_from_uscc_agrees(values):
    assert_agrees("ci_division_from_uscc", parsers.division_from_uscc, values)


# --- spec examples (independent of the oracle) ------------------------------------


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("2018-03-05", dt.date(2018, 3, 5)),
        ("2018/3/5", dt.date(2018, 3, 5)),
        ("20180305", dt.date(2018, 3, 5)),
        ("2018年3月5日", dt.date(2018, 3, 5)),
        ("2018.03.05", dt.date(2018, 3, 5)),
        ("2018-3-5", dt.date(2018, 3, 5)),
        ("2018-03-05 00:00:00", dt.date(2018, 3, 5)),
        ("43164", dt.date(2018, 3, 5)),  # Excel: 1899-12-30 + 43164 days
        ("43164.0", dt.date(2018, 3, 5)),
        ("2018-02-30", None),
        ("0999-12-31", None),  # years before 1000 are not dates we accept
        ("2018-13-01", None),
        ("3000000", None),
        ("yesterday", None),
    ],
)
def test_parse_date_examples(text, want):
    assert run("ci_parse_date", [text]) == [want]


def test_money_and_ratio_examples():
    assert run(
        "ci_money_parts",
        ["1,234.5", "500万元人民币", "500万", "5000000元", "12.5%", "3USD", "万元", "9x"],
    ) == [
        (1234.5, ""),
        (500.0, "万元"),
        (500.0, "万元"),
        (5000000.0, "元"),
        (12.5, "%"),
        (3.0, "美元"),
        (None, "万元"),
        (9.0, "x"),
    ]
    ratios = run(
        "ci_parse_ratio", ["35%", "35", "0.35", "100", "1", "350%", "0.5%", "35万元", "abc"]
    )
    assert ratios == [0.35, 0.35, 0.35, 1.0, 1.0, 3.5, 0.005, None, None]


def test_period_year_count_industry_examples():
    periods = ["2018-03", "201803", "2018年03月", "2018年3月", "2018/03", "2018-03-01至2018-03-31"]
    assert run("ci_parse_period", periods) == [dt.date(2018, 3, 1)] * 6
    assert (
        run("ci_parse_period", ["2018-03-01至2018-04-30", "2018-13", "2018-03-31至2018-03-01"])
        == [None] * 3
    )
    assert (
        run("ci_parse_year", ["2018", "2018年", "2018.0", "1948", "2101", "18"])
        == [2018] * 3 + [None] * 3
    )
    assert (
        run("ci_parse_count", ["1,234", "1234.0", "1234人", "-1", "1.5", "1,23"])
        == [1234] * 3 + [None] * 3
    )
    assert run("ci_industry_parts", ["I6513", "6513", "i 6513", "garbage"]) == [
        ("I", "6513"),
        (None, "6513"),
        ("I", "6513"),
        (None, None),
    ]
    assert run("ci_division_from_uscc", ["91310115MA1K3XXXX5"]) == ["310115"]


@pytest.mark.parametrize("name", [n for n in MACROS if not n.startswith("ci__")])
def test_null_and_blank_give_null(name):
    assert run(name, [None, "", " ", WHITESPACE, "\t\u3000 "]) == [None] * 5


def test_install_is_idempotent_and_works_read_only(tmp_path):
    import duckdb

    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    c = duckdb.connect(str(path), read_only=True)
    install_macros(c)
    install_macros(c)  # CREATE OR REPLACE: a second call is harmless
    assert c.execute("SELECT ci_parse_year('2018年')").fetchone() == (2018,)
    c.close()
    # TEMP macros: nothing was written into the database file.
    fresh = duckdb.connect(str(path))
    assert fresh.execute(
        "SELECT count(*) FROM duckdb_functions() WHERE function_name = 'ci_clean'"
    ).fetchone() == (0,)
