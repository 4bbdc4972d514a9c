"""Dimensions: destination, Shanghai district, industry, support regions, filters.

Outbound enterprises (every one established 2010, 存续, unless said):

    P1  莎车 653125, industry 0111 (A 01)   <- 浦东 investor (USCC 310115…) 10
    P2  红花岗 520302 (遵义), 1310 (C 13)   <- investor with region 310103 (卢湾 -> 黄浦) 20
    P3  西湖 330106, no industry            <- investor USCC 310000… (city level) 30, <- 浦东 5
    P4  香港 810000                         <- 浦东 7        not domestic: outside
    P5  徐汇 310104                         <- 浦东 9        in Shanghai: not outbound
    P6  莎车 653125, established 2019       <- 浦东 11       not yet active in 2018

Inbound: Q1 in 卢湾 310103 (abolished) <- 浙江 50; Q2 in 浦东 <- 浙江 60.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossinvest.analytics import query
from crossinvest.analytics.dims import DIMS, DimError, parse_dims
from tests.test_analytics_world import World, mk_uscc

PD, LW, CITY = mk_uscc("310115", 1), mk_uscc("330106", 2), mk_uscc("310000", 3)
P = {
    i: mk_uscc(code, 10 + i)
    for i, code in [
        (1, "653125"),
        (2, "520302"),
        (3, "330106"),
        (4, "440305"),
        (5, "310104"),
        (6, "653125"),
    ]
}
Q1, Q2, ZJ = mk_uscc("310103", 30), mk_uscc("310115", 31), mk_uscc("330106", 32)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("dims") / "home")
    w.ent(P[1], region="653125", industry="0111", section="A")
    w.ent(P[2], region="520302", industry="1310", section="C")
    w.ent(P[3], region="330106", industry=None, section=None)
    w.ent(P[4], region="810000")
    w.ent(P[5], region="310104")
    w.ent(P[6], region="653125", established="2019-02-01")
    w.holder(P[1], "浦东", uscc=PD, subscribed=10)
    w.holder(P[2], "卢湾", uscc=LW, region="310103", subscribed=20)
    w.holder(P[3], "市级", uscc=CITY, subscribed=30)
    w.holder(P[3], "浦东", uscc=PD, subscribed=5)
    for i, amount in ((4, 7), (5, 9), (6, 11)):
        w.holder(P[i], "浦东", uscc=PD, subscribed=amount)
    w.ent(Q1, region="310103")
    w.ent(Q2, region="310115")
    w.holder(Q1, "浙江", uscc=ZJ, subscribed=50)
    w.holder(Q2, "浙江", uscc=ZJ, subscribed=60)
    w.tax(P[1], "2018-02", 1.5)
    w.rebuild()
    yield w
    w.close()


def table(w, kind, by, **kw):
    r = query.stats(w.con, kind, "2018", by, **kw)
    key = by if isinstance(by, str) else by[0]
    return {
        row[key]: (row[f"{key}_name"], row["enterprises"], row["investment_wan"]) for row in r.rows
    }, r


def test_outbound_by_destination(world):
    rows, r = table(world, "outbound", "dest_province")
    assert rows == {
        "650000": ("新疆维吾尔自治区", 1, pytest.approx(10.0)),
        "520000": ("贵州省", 1, pytest.approx(20.0)),
        "330000": ("浙江省", 1, pytest.approx(35.0)),
    }
    assert r.total["enterprises"] == 3 and r.total["investment_wan"] == pytest.approx(65.0)
    assert r.total["tax_wan"] == pytest.approx(1.5)
    rows, _ = table(world, "outbound", "dest_prefecture")
    assert {k: v[0] for k, v in rows.items()} == {
        "653100": "喀什地区",
        "520300": "遵义市",
        "330100": "杭州市",
    }


def test_outbound_by_support_region(world):
    rows, r = table(world, "outbound", "support_region")
    assert rows == {
        "653125": ("莎车县", 1, pytest.approx(10.0)),
        "520300": (
            "遵义市",
            1,
            pytest.approx(20.0),
        ),  # a prefecture-level entry covers its districts
        None: ("非对口支援地区", 1, pytest.approx(35.0)),
    }


def test_outbound_district_is_the_shanghai_investors(world):
    rows, r = table(world, "outbound", "district")
    assert rows == {
        "310115": ("浦东新区", 2, pytest.approx(15.0)),  # P1 10, P3 5
        "310101": ("黄浦区", 1, pytest.approx(20.0)),  # 卢湾 resolves to today's 黄浦
        None: ("未知", 1, pytest.approx(30.0)),  # a city-level code has no district
    }
    assert r.total["enterprises"] == 3  # P3 is in two groups, once in the total


def test_industry_dimensions(world):
    rows, _ = table(world, "outbound", "industry_section")
    assert rows == {
        "A": ("农、林、牧、渔业", 1, pytest.approx(10.0)),
        "C": ("制造业", 1, pytest.approx(20.0)),
        None: ("未知", 1, pytest.approx(35.0)),
    }
    rows, _ = table(world, "outbound", "industry_division")
    assert {k: v[0] for k, v in rows.items()} == {
        "01": "农业",
        "13": "农副食品加工业",
        None: "未知",
    }


def test_two_dimensions(world):
    r = query.stats(world.con, "outbound", "2018", ["district", "dest_province"])
    got = {(x["district"], x["dest_province"]): x["investment_wan"] for x in r.rows}
    assert got == {
        ("310115", "650000"): pytest.approx(10.0),
        ("310115", "330000"): pytest.approx(5.0),
        ("310101", "520000"): pytest.approx(20.0),
        (None, "330000"): pytest.approx(30.0),
    }
    assert list(r.rows[0])[:4] == [
        "district",
        "district_name",
        "dest_province",
        "dest_province_name",
    ]


def test_inbound_district_of_an_abolished_district(world):
    rows, r = table(world, "inbound", "district")
    assert rows == {
        "310101": ("黄浦区", 1, pytest.approx(50.0)),
        "310115": ("浦东新区", 1, pytest.approx(60.0)),
    }
    rows, _ = table(world, "inbound", "dest_province")
    assert rows == {"310000": ("上海市", 2, pytest.approx(110.0))}


def test_filters_restrict_groups_and_total(world):
    rows, r = table(world, "outbound", "dest_province", filters={"district": "310115"})
    assert rows == {
        "650000": ("新疆维吾尔自治区", 1, pytest.approx(10.0)),
        "330000": ("浙江省", 1, pytest.approx(5.0)),
    }
    assert r.total["enterprises"] == 2 and r.total["investment_wan"] == pytest.approx(15.0)
    rows, r = table(
        world,
        "inbound",
        "origin_province",
        filters=query.scoped_filters(None, districts=["310101"]),
    )
    assert rows == {"330000": ("浙江省", 1, pytest.approx(50.0))}
    assert r.total["enterprises"] == 1


def test_scoped_filters_intersect():
    assert query.scoped_filters(
        {"district": ["310101", "310115"]}, districts=["310115", "310104"]
    ) == {"district": ["310115"]}


def test_multi_valued_origin_filter_without_grouping_is_refused(world):
    with pytest.raises(DimError, match="去重"):
        query.stats(
            world.con,
            "inbound",
            "2018",
            ["district"],
            filters={"origin_province": ["330000", "320000"]},
        )


def test_unknown_dimension_is_refused_in_chinese(world):
    with pytest.raises(DimError, match="未知维度"):
        query.stats(world.con, "inbound", "2018", ["province"])


@given(
    st.lists(st.sampled_from(sorted(DIMS)), min_size=1, max_size=5),
    st.sampled_from([",", ", ", " ,"]),
)
def test_parse_dims_keeps_order_and_drops_repeats(names, sep):
    assert parse_dims(sep.join(names)) == list(dict.fromkeys(names))


@given(
    st.text(min_size=1, max_size=20).filter(
        lambda t: t.strip() and "," not in t and t.strip() not in DIMS
    )
)
def test_parse_dims_refuses_anything_else(token):
    with pytest.raises(DimError):
        parse_dims(f"origin_province,{token}")


def test_one_compile_serves_every_filter_value(world, monkeypatch):
    """A filter's values are not compiled into the cached SQL: each value still applies."""
    import ibis

    from crossinvest.analytics import sqlcache

    compiles = []
    real = ibis.to_sql
    sqlcache.clear_memory()
    world.con.execute("DELETE FROM an_sql_cache")

    def counted(expr, **kw):
        compiles.append(expr)
        return real(expr, **kw)

    got, per_value = {}, []
    for district in ("310115", "310101", "3101'15", "310104"):
        per_value.append(len(compiles))
        monkeypatch.setattr(ibis, "to_sql", counted)
        served, _ = table(world, "outbound", "dest_province", filters={"district": district})
        monkeypatch.setattr(ibis, "to_sql", real)
        live = query.stats(
            world.con,
            "outbound",
            "2018",
            "dest_province",
            filters={"district": district},
            live=True,
        )
        assert served == {
            r["dest_province"]: (r["dest_province_name"], r["enterprises"], r["investment_wan"])
            for r in live.rows
        }
        got[district] = served
    # The first value compiles the shape (its rows and its total), the others reuse it.
    assert per_value[1] >= 1 and len(compiles) == per_value[1], per_value + [len(compiles)]
    assert got["310115"] == {
        "650000": ("新疆维吾尔自治区", 1, pytest.approx(10.0)),
        "330000": ("浙江省", 1, pytest.approx(5.0)),
    }
    assert got["310101"] != got["310115"] and got["3101'15"] == {}
