"""Reference tables: GB/T 2260 regions from stdnum's loc.dat, GB/T 4754-2017 industries."""

from __future__ import annotations

import collections

import pytest

from crossinvest.config import Home
from crossinvest.reference.industries import industry_rows
from crossinvest.reference.plugin import refresh_reference
from crossinvest.reference.regions import (
    parse_spans,
    read_loc_dat,
    region,
    region_name,
    region_rows,
)
from crossinvest.warehouse.connection import connect, transaction


@pytest.fixture(scope="module")
def regions() -> dict[str, dict]:
    return {r["code"]: r for r in region_rows()}


def test_counts_per_level_are_plausible(regions):
    levels = collections.Counter(r["level"] for r in regions.values())
    # 31 mainland provinces + 71/81/82; ~330 prefectures (+ municipal 市辖区/县 and
    # historical ones); ~2,850 current counties plus historical codes.
    assert levels["national"] == 1
    assert levels["province"] == 34
    assert 330 <= levels["prefecture"] <= 700
    assert 2800 <= levels["county"] <= 8000
    current = [r for r in regions.values() if r["level"] == "county" and r["is_current"]]
    assert 2800 <= len(current) <= 3300
    assert len(regions) == len(region_rows())  # one row per code


def test_shanghai_districts_current_and_historical(regions):
    pudong, luwan = regions["310115"], regions["310103"]
    assert (pudong["name"], pudong["province_name"], pudong["is_current"]) == (
        "浦东新区",
        "上海市",
        True,
    )
    assert (luwan["name"], luwan["province_name"], luwan["valid_to"], luwan["is_current"]) == (
        "卢湾区",
        "上海市",
        2011,
        False,
    )
    # municipality: the prefecture level is the municipality itself
    assert (pudong["prefecture_code"], pudong["prefecture_name"], pudong["county_name"]) == (
        "310000",
        "上海市",
        "浦东新区",
    )
    current = {
        r["name"]
        for r in regions.values()
        if r["code"].startswith("31") and r["level"] == "county" and r["is_current"]
    }
    assert {
        "黄浦区",
        "徐汇区",
        "长宁区",
        "静安区",
        "普陀区",
        "虹口区",
        "杨浦区",
        "闵行区",
        "宝山区",
        "嘉定区",
        "浦东新区",
        "金山区",
        "松江区",
        "青浦区",
        "奉贤区",
        "崇明区",
    } == current


def test_county_resolves_to_prefecture_and_province(regions):
    shache = regions["653125"]
    assert shache["name"] == "莎车县" and shache["level"] == "county"
    assert (shache["province_code"], shache["province_name"]) == ("650000", "新疆维吾尔自治区")
    assert (shache["prefecture_code"], shache["prefecture_name"]) == ("653100", "喀什地区")
    assert regions["653100"]["level"] == "prefecture" and regions["650000"]["level"] == "province"


def test_every_code_has_its_province_and_prefecture_rows(regions):
    for r in regions.values():
        assert r["province_code"] in regions, r
        assert r["province_name"] == regions[r["province_code"]]["name"]
        if r["prefecture_code"]:
            assert regions[r["prefecture_code"]]["level"] in ("province", "prefecture", "national")
        assert (r["county_name"] is not None) == (r["level"] == "county")
        assert r["is_current"] == (r["valid_to"] is None)


def test_special_codes(regions):
    national = regions["100000"]
    assert (national["name"], national["level"], national["domestic"]) == (
        "国家级登记",
        "national",
        True,
    )
    for code, name in (
        ("710000", "台湾省"),
        ("810000", "香港特别行政区"),
        ("820000", "澳门特别行政区"),
    ):
        assert (regions[code]["name"], regions[code]["domestic"]) == (name, False)
    assert all(r["domestic"] == (r["code"][:2] not in ("71", "81", "82")) for r in regions.values())


def test_renamed_code_keeps_former_names(regions):
    # loc.dat: 12 0110 county="[-1991]东郊区,[1992-]东丽区"
    assert regions["120110"]["name"] == "东丽区" and regions["120110"]["former_names"] == ["东郊区"]
    assert parse_spans("[-1991]东郊区,[1992-]东丽区") == [
        (None, 1991, "东郊区"),
        (1992, None, "东丽区"),
    ]
    assert parse_spans("黄浦区") == [(None, None, "黄浦区")]


def test_every_loc_dat_code_is_a_row(regions):
    codes = read_loc_dat()
    assert set(codes) <= set(regions)
    assert len(codes) > 6000


def test_region_name_lookup():
    assert region_name("310115") == "浦东新区"
    assert region_name("310103") == "卢湾区"
    assert region_name("100000") == "国家级登记"
    assert region_name("999999") is None and region_name(None) is None
    assert region("653125")["full_name"] == "新疆维吾尔自治区喀什地区莎车县"


def test_industries():
    rows = industry_rows()
    levels = collections.Counter(r["level"] for r in rows)
    assert levels["门类"] == 20 and levels["大类"] == 97
    assert {r["section"] for r in rows} == set("ABCDEFGHIJKLMNOPQRST")
    (soft,) = [r for r in rows if r["code"] == "6513"]
    assert (soft["level"], soft["section"], soft["division_code"]) == ("小类", "I", "65")
    assert soft["section_name"] == "信息传输、软件和信息技术服务业"
    assert len({r["code"] for r in rows}) == len(rows)  # codes unique (门类 use their letter)
    # the spec's CSV lists 飞机制造 as a second 中类 374; it is 小类 3741
    assert [(r["level"], r["code"]) for r in rows if r["name"] == "飞机制造"] == [("小类", "3741")]


def test_migration_creates_and_fills_tables(tmp_path):
    with connect(Home(tmp_path / "home")) as wh:
        con = wh.con
        assert con.execute(
            "SELECT name FROM _migrations WHERE name = '0002_reference_tables'"
        ).fetchall()
        by_level = dict(
            con.execute("SELECT level, count(*) FROM ref_regions GROUP BY level").fetchall()
        )
        assert by_level == dict(collections.Counter(r["level"] for r in region_rows()))
        assert con.execute(
            "SELECT name, province_name, prefecture_name FROM ref_regions WHERE code = '310103'"
        ).fetchall() == [("卢湾区", "上海市", "上海市")]
        assert (
            con.execute("SELECT count(*) FROM ref_industries WHERE level = '小类'").fetchone()[0]
            == 1381
        )
        types = dict(
            con.execute(
                "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'ref_regions'"
            ).fetchall()
        )
        assert types["valid_to"] == "INTEGER" and types["former_names"] == "VARCHAR[]"
        n = con.execute("SELECT count(*) FROM ref_regions").fetchone()[0]
        # refresh is idempotent, also inside a transaction
        with transaction(con):
            refresh_reference(con)
        refresh_reference(con)
        assert con.execute("SELECT count(*) FROM ref_regions").fetchone()[0] == n
    with connect(Home(tmp_path / "home")) as wh:  # reopening does not migrate again
        assert (
            wh.con.execute(
                "SELECT count(*) FROM _migrations WHERE name = '0002_reference_tables'"
            ).fetchone()[0]
            == 1
        )
