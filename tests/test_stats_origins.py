"""Origin of each shareholder row: the four rules in order, non-domestic and persons.

One Shanghai enterprise E (浦东 310115) has one investor per case; the expected
origins and sums below are worked out by hand from the rows.
"""

from __future__ import annotations

import pytest

from crossinvest.analytics import query
from crossinvest.warehouse.connection import fetch_all
from tests.test_analytics_world import World, mk_uscc

E = mk_uscc("310115", 1)
E2 = mk_uscc("310104", 2)
REG_440 = mk_uscc("320106", 10)  # USCC says 江苏 鼓楼; its registry entry says 深圳 南山
REG_NULL = mk_uscc("320106", 11)  # in the registry, but with no region_code
BAD_CHECK = mk_uscc("330106", 12)[:-1] + ("0" if mk_uscc("330106", 12)[-1] != "0" else "1")

# name: (investor kwargs, expected origin_code, rule, class)
CASES = {
    "a_rule1": (dict(uscc=mk_uscc("320106", 20), region="330106", subscribed=10), "330106", 1, "D"),
    "b_rule2": (dict(uscc=REG_440, subscribed=20), "440305", 2, "D"),
    "c_rule3": (dict(uscc=mk_uscc("320505", 21), subscribed=30), "320505", 3, "D"),
    "d_rule4": (dict(subscribed=40), None, 4, "U"),
    "e_bad_region": (
        dict(uscc=mk_uscc("330106", 22), region="999999", subscribed=50),
        "330106",
        3,
        "D",
    ),
    "f_reg_no_region": (dict(uscc=REG_NULL, subscribed=60), "320106", 3, "D"),
    "g_bad_check": (dict(uscc=BAD_CHECK, subscribed=70), None, 4, "U"),
    "h_hongkong": (dict(region="810000", subscribed=80), "810000", 1, "N"),
    "i_foreign": (dict(itype="外国(地区)企业", subscribed=90), None, 4, "N"),
    "j_national": (dict(uscc=mk_uscc("100000", 23), subscribed=100), "100000", 3, "D"),
    "k_historical_sh": (
        dict(uscc=mk_uscc("330106", 24), region="310103", subscribed=110),
        "310103",
        1,
        "D",
    ),
    "l_person": (dict(person_division="330106", subscribed=120), "330106", 5, "D"),
    "m_person_bad": (dict(person_division="999999", subscribed=130), None, 4, "U"),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("origins") / "home")
    w.ent(E, capital=5000)
    w.ent(E2, region="310104", capital=100)
    w.ent(REG_440, region="440305")
    w.ent(REG_NULL, region=None)
    for name, (kw, *_rest) in CASES.items():
        w.holder(E, name, **kw)
    w.holder(E2, "c2_rule3", uscc=mk_uscc("320505", 30), subscribed=5)
    w.tax(E, "2018-05", 7.0)
    w.tax(E2, "2018-06", 3.0)
    w.stat(E, 2018, 900.0, 9)
    w.rebuild()
    yield w
    w.close()


def test_each_row_gets_the_first_rule_that_gives_a_valid_code(world):
    got = {
        r[0]: (r[1], r[2], r[3])
        for r in fetch_all(
            world.con,
            """SELECT s.investor_name, o.origin_code, o.origin_rule, o.origin_class
               FROM investor_origins o JOIN shareholders s USING (enterprise_uscc, investor_key)
               WHERE o.enterprise_uscc = ?""",
            [E],
        )
    }
    assert got == {name: tuple(exp) for name, (_, *exp) in CASES.items()}


def test_rule_two_beats_the_uscc_digits(world):
    # 江苏 in the USCC, 深圳 in its own registry entry: the registry decides.
    r = query.stats(world.con, "inbound", "2018", ["origin_province"])
    provinces = {row["origin_province"] for row in r.rows}
    assert "440000" in provinces


def test_inbound_by_province_groups_and_total(world):
    r = query.stats(world.con, "inbound", "2018", ["origin_province"])
    by = {row["origin_province"]: row for row in r.rows}
    # 江苏: c 30 + f 60 (E) and c2 5 (E2); 浙江: a 10 + e 50; 广东: b 20; 国家级: j 100.
    # Not: unknown (d, g), Hong Kong (h), foreign (i), 卢湾 = Shanghai (k), persons (l, m).
    assert set(by) == {"320000", "330000", "440000", "100000"}
    assert by["320000"]["enterprises"] == 2 and by["320000"]["investment_wan"] == pytest.approx(
        95.0
    )
    assert by["330000"]["enterprises"] == 1 and by["330000"]["investment_wan"] == pytest.approx(
        60.0
    )
    assert by["440000"]["investment_wan"] == pytest.approx(20.0)
    assert by["100000"]["origin_province_name"] == "国家级登记"
    assert by["100000"]["investment_wan"] == pytest.approx(100.0)
    # Each group counts E whole: its tax and revenue appear in every group it is in.
    assert by["330000"]["tax_wan"] == pytest.approx(7.0)
    assert by["320000"]["tax_wan"] == pytest.approx(10.0)
    assert by["320000"]["revenue_wan"] == pytest.approx(900.0) and by["320000"]["employees"] == 9
    # The total counts distinct enterprises: 2, not 5.
    assert r.total == {
        "enterprises": 2,
        "new_enterprises": 0,
        "investment_wan": pytest.approx(275.0),
        "tax_wan": pytest.approx(10.0),
        "revenue_wan": pytest.approx(900.0),
        "employees": 9,
    }


def test_prefecture_and_national_names(world):
    r = query.stats(world.con, "inbound", "2018", ["origin_prefecture"])
    by = {
        row["origin_prefecture"]: (row["origin_prefecture_name"], row["investment_wan"])
        for row in r.rows
    }
    assert by["320100"] == ("南京市", pytest.approx(60.0))
    assert by["320500"] == ("苏州市", pytest.approx(35.0))
    assert by["330100"] == ("杭州市", pytest.approx(60.0))
    assert by["440300"] == ("深圳市", pytest.approx(20.0))
    assert by["100000"] == ("国家级登记", pytest.approx(100.0))


def test_persons_only_with_include_persons(world):
    without = query.stats(world.con, "inbound", "2018", ["origin_province"])
    with_p = query.stats(world.con, "inbound", "2018", ["origin_province"], include_persons=True)
    zj = {r["origin_province"]: r["investment_wan"] for r in with_p.rows}
    assert zj["330000"] == pytest.approx(60.0 + 120.0)  # l (330106); m has no valid division
    assert with_p.total["investment_wan"] == pytest.approx(275.0 + 120.0)
    assert without.total["investment_wan"] == pytest.approx(275.0)


def test_a_shanghai_historical_code_resolves_but_does_not_count(world):
    r = fetch_all(
        world.con, "SELECT province_code, district_code FROM an_region_lookup WHERE code = '310103'"
    )
    assert r == [("310000", "310101")]  # 卢湾区 -> 上海; district: today's 黄浦区


def test_hong_kong_and_foreign_are_outside_every_statistic(world):
    for by in ("origin_province", "origin_prefecture"):
        for persons in (False, True):
            r = query.stats(world.con, "inbound", "2018", [by], include_persons=persons)
            codes = {row[by] for row in r.rows}
            assert not any(c and c[:2] in ("71", "81", "82") for c in codes)
            assert None not in codes  # unknown origins never make a group either


def test_migration_gives_existing_origins_the_holding_columns(tmp_path):
    """analytics.0004 on a warehouse built before it: same rows, new columns filled, stored by eh."""
    from crossinvest.analytics.tables import ORIGIN_LOOKUP_COLUMNS
    from crossinvest.warehouse.connection import connect
    from crossinvest.web.testing import demo_home

    home = demo_home(tmp_path / "home")
    cols = "enterprise_uscc, investor_key, origin_code, origin_rule, origin_class, share_ratio"
    with connect(home) as wh:
        before = sorted(fetch_all(wh.con, f"SELECT {cols} FROM investor_origins"))
        # Back to the table as analytics.0001 made it, with its old index.
        for c in ORIGIN_LOOKUP_COLUMNS:
            wh.con.execute(f"ALTER TABLE investor_origins DROP COLUMN {c}")
        wh.con.execute(
            "CREATE INDEX ix_investor_origins_enterprise ON investor_origins (enterprise_uscc)"
        )
        wh.con.execute("DELETE FROM _migrations WHERE name = 'analytics.0004_origin_lookup'")
    with connect(home) as wh:
        assert sorted(fetch_all(wh.con, f"SELECT {cols} FROM investor_origins")) == before
        assert fetch_all(
            wh.con,
            """SELECT count(*) FROM investor_origins o JOIN shareholders s USING (enterprise_uscc, investor_key)
               WHERE o.eh = hash(o.enterprise_uscc) AND o.investor_name = s.investor_name
                 AND o.investor_type IS NOT DISTINCT FROM s.investor_type
                 AND o.paid_capital_wan IS NOT DISTINCT FROM s.paid_capital_wan""",
        ) == [(len(before),)]
        eh = [r[0] for r in fetch_all(wh.con, "SELECT eh FROM investor_origins")]
        assert eh == sorted(eh)
