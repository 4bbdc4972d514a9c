"""Periods, the reference date and activity (definitions.md, "Periods").

Shanghai enterprises A–H, each with one 浙江 investor (100 万元):

    A  est 2015-05-01, 存续
    B  est 2018-08-15, 存续                     new in 2018, 2018Q3, 2018-08
    C  est 2012-01-01, 注销 on 2018-07-10        active up to 2018-06
    D  est 2012-01-01, 注销, no date             never active
    E  est 2012-01-01, 吊销 on 2019-03-01        active all 2018
    F  est 2012-01-01, 注销 on 2018-12-31        inactive at 2018-12-31 itself
    G  est 2018-12-31, 存续                      active at 2018-12-31 only
    H  est 2012-01-01, 存续 with a date          the status decides: active

Tax (万元): A 2018-01 1, 2018-07 2, 2018-08 4, 2018-12 8; B 2018-09 16;
C 2018-03 32, 2018-07 64. Stats: A 2018 100/10; B 2018 200/20; C 2018 400/40;
E 2017 800/80.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossinvest.analytics import query
from crossinvest.analytics.periods import PeriodError, parse_period
from tests.test_analytics_world import World, mk_uscc

ZJ = mk_uscc("330106", 99)
SPEC = {
    "A": dict(established="2015-05-01"),
    "B": dict(established="2018-08-15"),
    "C": dict(established="2012-01-01", status="注销", deregistered="2018-07-10"),
    "D": dict(established="2012-01-01", status="注销"),
    "E": dict(established="2012-01-01", status="吊销", deregistered="2019-03-01"),
    "F": dict(established="2012-01-01", status="注销", deregistered="2018-12-31"),
    "G": dict(established="2018-12-31"),
    "H": dict(established="2012-01-01", status="存续", deregistered="2018-01-01"),
}
KEYS = {name: mk_uscc("310115", 100 + i) for i, name in enumerate(SPEC)}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("periods") / "home")
    for name, kw in SPEC.items():
        w.ent(KEYS[name], **kw)
        w.holder(KEYS[name], "浙江投资", uscc=ZJ, subscribed=100)
    for name, month, wan in [
        ("A", "2018-01", 1),
        ("A", "2018-07", 2),
        ("A", "2018-08", 4),
        ("A", "2018-12", 8),
        ("B", "2018-09", 16),
        ("C", "2018-03", 32),
        ("C", "2018-07", 64),
    ]:
        w.tax(KEYS[name], month, float(wan))
    for name, year, rev, emp in [
        ("A", 2018, 100, 10),
        ("B", 2018, 200, 20),
        ("C", 2018, 400, 40),
        ("E", 2017, 800, 80),
    ]:
        w.stat(KEYS[name], year, float(rev), emp)
    w.rebuild()
    yield w
    w.close()


# period: (enterprises, new, tax, revenue, employees), worked out from the table above
EXPECTED = {
    "2018": (5, 2, 31.0, 300.0, 30),  # A B E G H; new B G; tax A 15 + B 16
    "2018Q3": (5, 1, 22.0, 300.0, 30),  # A B E F H; new B; tax A 2+4, B 16
    "2018-07": (4, 0, 2.0, 100.0, 10),  # A E F H; tax A 2 (C gone by 07-31)
    "2018Q2": (5, 0, 0.0, 500.0, 50),  # A C E F H; revenue A + C
    "2018-12": (5, 1, 8.0, 300.0, 30),  # A B E G H; new G
    "2017": (5, 0, 0.0, 800.0, 80),  # A C E F H; stats of 2017: E
}


@pytest.mark.parametrize("period", list(EXPECTED))
def test_totals_per_period(world, period):
    r = query.stats(world.con, "inbound", period, ["origin_province"])
    n, new, tax, rev, emp = EXPECTED[period]
    assert r.total["enterprises"] == n
    assert r.total["new_enterprises"] == new
    assert r.total["investment_wan"] == pytest.approx(100.0 * n)
    assert r.total["tax_wan"] == pytest.approx(tax)
    assert r.total["revenue_wan"] == pytest.approx(rev)
    assert r.total["employees"] == emp
    assert r.rows == [{"origin_province": "330000", "origin_province_name": "浙江省", **r.total}]
    assert r.served_from == "cube"


def test_totals_of_many_periods_in_one_query(world):
    """``totals`` (the overview's one query) gives each period's worked-out figures too,
    and a period outside the horizon (2016, answered live) among them."""
    periods = [*EXPECTED, "2016"]
    got = query.totals(world.con, "inbound", periods)
    assert list(got) == periods
    for period, (n, new, tax, rev, emp) in EXPECTED.items():
        t = got[period]
        assert (t["enterprises"], t["new_enterprises"], t["employees"]) == (n, new, emp), period
        assert t["tax_wan"] == pytest.approx(tax) and t["revenue_wan"] == pytest.approx(rev)
    assert got["2016"]["enterprises"] == 5 and got["2016"]["tax_wan"] == 0.0
    scoped = query.totals(world.con, "inbound", ["2018"], filters={"district": ["310101"]})
    assert scoped["2018"]["enterprises"] == 0  # every enterprise here is in 310115


def test_reference_dates():
    assert str(parse_period("2018").reference_date) == "2018-12-31"
    assert str(parse_period("2018Q1").reference_date) == "2018-03-31"
    assert str(parse_period("2016-02").reference_date) == "2016-02-29"


def test_period_outside_the_materialised_horizon_is_answered_live(world):
    r = query.stats(world.con, "inbound", "2016", ["origin_province"])
    assert r.served_from == "live"
    assert r.total["enterprises"] == 5  # A C E F H at 2016-12-31 (D never active)
    assert r.total["tax_wan"] == 0.0


@given(
    st.integers(1949, 2100),
    st.sampled_from(["", "Q1", "Q2", "Q3", "Q4", *[f"-{m:02d}" for m in range(1, 13)]]),
)
def test_every_valid_period_parses_and_round_trips(year, suffix):
    p = parse_period(f"{year}{suffix}")
    assert p.label == f"{year}{suffix}"
    assert p.start_ym <= p.end_ym and p.reference_date.year == year
    assert parse_period(p.label) == p


@given(st.text(max_size=12))
def test_anything_else_is_a_period_error_never_a_crash(text):
    try:
        p = parse_period(text)
    except PeriodError:
        return
    assert parse_period(p.label) == p and p.year == int(text.strip()[:4])


@pytest.mark.parametrize("bad", ["2018Q5", "18", "2018-13", "2018/07", "", "20180", "Q3"])
def test_bad_periods_are_refused_in_chinese(bad):
    with pytest.raises(PeriodError, match="期间"):
        parse_period(bad)
