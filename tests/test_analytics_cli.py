"""The command line of the statistics (contract.md): stats, enterprise, support-regions.

A small hand-built warehouse, then ``crossinvest`` run as a separate process the
way acceptance scripts run it. Expected figures are worked out from the rows:

    E1  浦东, est 2015, capital 1000 <- 浙江 (330106…) 300, <- 江苏 (region 320505) 200, <- a person 500
        tax 2018-03 10.0, 2018-08 5.0; stats 2018: revenue 1000.0, 50 persons
    E2  闵行, est 2018-06-01           <- 浙江 (330106…) 40; tax 2018-07 2.5
    O1  莎车 653125 (outbound)          <- 浦东 investor 70
"""

from __future__ import annotations

import csv
import io
import json

import pytest

from crossinvest.analytics.support import list_support_regions
from crossinvest.config import Home
from crossinvest.warehouse.connection import connect
from tests.conftest import run_cli
from tests.test_analytics_world import World, mk_uscc

E1, E2, O1 = mk_uscc("310115", 1), mk_uscc("310112", 2), mk_uscc("653125", 3)
ZJ, JS, PD = mk_uscc("330106", 10), mk_uscc("320106", 11), mk_uscc("310115", 12)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Home:
    root = tmp_path_factory.mktemp("cli") / "home"
    w = World(root)
    w.ent(E1, established="2015-01-01", capital=1000)
    w.ent(E2, region="310112", established="2018-06-01", capital=100)
    w.ent(O1, region="653125", capital=100)
    w.holder(E1, "浙江某集团", uscc=ZJ, subscribed=300, share=0.3)
    w.holder(E1, "江苏某公司", uscc=JS, subscribed=200, share=0.2, region="320505")
    w.holder(E1, "张三", person_division="440305", subscribed=500, share=0.5)
    w.holder(E2, "浙江某集团", uscc=ZJ, subscribed=40, share=0.4)
    w.holder(O1, "浦东某公司", uscc=PD, subscribed=70, share=0.7)
    w.tax(E1, "2018-03", 10.0)
    w.tax(E1, "2018-08", 5.0)
    w.tax(E2, "2018-07", 2.5)
    w.stat(E1, 2018, 1000.0, 50)
    w.rebuild()
    w.close()
    return Home(root)


def stats_json(home: Home, *args: str) -> dict:
    proc = run_cli("stats", *args, "--format", "json", home=home)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_stats_json_is_exactly_the_contract(home):
    out = stats_json(home, "inbound", "--period", "2018", "--by", "origin_province")
    assert out == {
        "kind": "inbound",
        "period": "2018",
        "reference_date": "2018-12-31",
        "by": ["origin_province"],
        "penetrate": False,
        "rows": [
            {
                "origin_province": "320000",
                "origin_province_name": "江苏省",
                "enterprises": 1,
                "new_enterprises": 0,
                "investment_wan": 200.0,
                "tax_wan": 15.0,
                "revenue_wan": 1000.0,
                "employees": 50,
            },
            {
                "origin_province": "330000",
                "origin_province_name": "浙江省",
                "enterprises": 2,
                "new_enterprises": 1,
                "investment_wan": 340.0,
                "tax_wan": 17.5,
                "revenue_wan": 1000.0,
                "employees": 50,
            },
        ],
        "total": {
            "enterprises": 2,
            "new_enterprises": 1,
            "investment_wan": 540.0,
            "tax_wan": 17.5,
            "revenue_wan": 1000.0,
            "employees": 50,
        },
    }


def test_stats_quarter_persons_and_outbound(home):
    q3 = stats_json(
        home, "inbound", "--period", "2018Q3", "--by", "origin_province", "--include-persons"
    )
    assert q3["reference_date"] == "2018-09-30"
    by = {r["origin_province"]: r for r in q3["rows"]}
    assert by["440000"]["investment_wan"] == 500.0  # the person, with --include-persons
    assert by["330000"]["tax_wan"] == 7.5  # E1 2018-08 5.0 + E2 2018-07 2.5
    assert q3["total"]["new_enterprises"] == 0  # E2 was established in Q2: not new in Q3
    out = stats_json(home, "outbound", "--period", "2018", "--by", "dest_province,support_region")
    assert out["rows"] == [
        {
            "dest_province": "650000",
            "dest_province_name": "新疆维吾尔自治区",
            "support_region": "653125",
            "support_region_name": "莎车县",
            "enterprises": 1,
            "new_enterprises": 0,
            "investment_wan": 70.0,
            "tax_wan": 0.0,
            "revenue_wan": 0.0,
            "employees": 0,
        }
    ]


def test_new_enterprises_counts_the_period_not_the_year(home):
    q2 = stats_json(home, "inbound", "--period", "2018Q2", "--by", "district")
    assert q2["total"]["new_enterprises"] == 1  # E2, established 2018-06-01
    assert {r["district"]: r["district_name"] for r in q2["rows"]} == {
        "310112": "闵行区",
        "310115": "浦东新区",
    }


def test_stats_csv_and_table(home):
    proc = run_cli(
        "stats",
        "inbound",
        "--period",
        "2018",
        "--by",
        "origin_province",
        "--format",
        "csv",
        home=home,
    )
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [r["origin_province"] for r in rows] == ["320000", "330000", ""]
    assert rows[-1]["origin_province_name"] == "合计" and rows[-1]["enterprises"] == "2"
    assert float(rows[1]["investment_wan"]) == 340.0
    proc = run_cli(
        "stats",
        "inbound",
        "--period",
        "2018",
        "--by",
        "origin_province",
        "--format",
        "table",
        home=home,
    )
    assert proc.returncode == 0 and "浙江省" in proc.stdout and "合计" in proc.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["inbound", "--period", "2018Q5", "--by", "origin_province"], "期间"),
        (["inbound", "--period", "2018", "--by", "province"], "未知维度"),
        (["sideways", "--period", "2018", "--by", "origin_province"], "统计类型"),
        (["inbound", "--period", "2018", "--by", "origin_province", "--format", "xml"], "输出格式"),
    ],
)
def test_bad_arguments_exit_2_with_one_chinese_line(home, args, needle):
    proc = run_cli("stats", *args, home=home)
    assert proc.returncode == 2
    assert needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert proc.stdout == ""


def test_enterprise_profile(home):
    proc = run_cli("enterprise", E1, "--json", home=home)
    assert proc.returncode == 0, proc.stderr
    prof = json.loads(proc.stdout)
    assert prof["enterprise"]["enterprise_key"] == E1
    assert prof["enterprise"]["region"]["name"] == "浦东新区"
    inv = {i["investor_name"]: i for i in prof["investors"]}
    assert inv["江苏某公司"]["origin"]["code"] == "320505"
    assert inv["江苏某公司"]["origin"]["rule"] == 1
    assert (
        inv["浙江某集团"]["origin"]["rule"] == 3
        and inv["浙江某集团"]["origin"]["province_name"] == "浙江省"
    )
    assert inv["张三"]["investor_id"] is None and inv["张三"]["origin"]["rule"] == 5
    assert [(m["month"], m["tax_wan"]) for m in prof["tax_by_month"]] == [
        ("2018-03", 10.0),
        ("2018-08", 5.0),
    ]
    assert prof["stats_by_year"][0]["revenue_wan"] == 1000.0
    assert {(lk["source"], lk["method"], lk["status"]) for lk in prof["links"]} == {
        ("tax", "uscc", "direct"),
        ("stats", "uscc", "direct"),
    }


def test_unknown_enterprise_exits_2(home):
    proc = run_cli("enterprise", mk_uscc("310115", 999), "--json", home=home)
    assert proc.returncode == 2 and "不在登记信息中" in proc.stderr


def test_support_regions_are_versioned_and_editable(home):
    proc = run_cli("support-regions", "list", "--json", home=home)
    listed = json.loads(proc.stdout)
    assert listed["version"] == 1 and "653125" in {r["region_code"] for r in listed["regions"]}
    proc = run_cli(
        "support-regions",
        "add",
        "330106",
        "--program",
        "测试协作",
        "--valid-from",
        "2019-01-01",
        "--by",
        "tester",
        home=home,
    )
    assert proc.returncode == 0, proc.stderr
    assert run_cli("support-regions", "add", "330106", "--program", "x", home=home).returncode == 2
    assert run_cli("support-regions", "add", "999999", "--program", "x", home=home).returncode == 2
    # Valid only from 2019: the 2018 figures do not move.
    out = stats_json(home, "outbound", "--period", "2018", "--by", "support_region")
    assert [r["support_region"] for r in out["rows"]] == ["653125"]
    assert (
        run_cli("support-regions", "remove", "653125", "--note", "测试", home=home).returncode == 0
    )
    out = stats_json(home, "outbound", "--period", "2018", "--by", "support_region")
    assert [(r["support_region"], r["support_region_name"]) for r in out["rows"]] == [
        (None, "非对口支援地区")
    ]
    with connect(home) as wh:
        v1 = list_support_regions(wh.con, 1)
        now = list_support_regions(wh.con)
    assert "653125" in {r["region_code"] for r in v1} and "653125" not in {
        r["region_code"] for r in now
    }
    hist = json.loads(run_cli("support-regions", "history", "--json", home=home).stdout)
    assert [h["action"] for h in hist] == ["seed", "add", "remove"]
    # Put it back for the other tests.
    assert (
        run_cli(
            "support-regions", "add", "653125", "--program", "对口支援新疆", home=home
        ).returncode
        == 0
    )
