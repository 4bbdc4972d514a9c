"""A small hand-built warehouse for the analytics tests (helpers, plus a check of the helpers).

Rows go straight into the ``<source>_rows`` tables (the loader is not under
test here). Until ``crossinvest.reference`` lands, ``ref_regions`` and
``ref_industries`` are tiny stand-ins made here; once it exists the real tables
are used, and every expected value in the tests holds for both.
"""

from __future__ import annotations

import csv
from datetime import date
from importlib import resources
from pathlib import Path

from stdnum.cn import uscc as stdnum_uscc

from crossinvest.analytics import materialize
from crossinvest.config import Home
from crossinvest.warehouse.connection import connect, fetch_one, run, transaction
from crossinvest.warehouse.schema import FILL_INVESTOR_USCC

# code, name, level, valid_from, valid_to (years), domestic
STAND_IN_REGIONS = [
    ("110000", "北京市", "province", None, None, True),
    ("110105", "朝阳区", "county", None, None, True),
    ("110108", "海淀区", "county", None, None, True),
    ("310000", "上海市", "province", None, None, True),
    ("310101", "黄浦区", "county", None, None, True),
    ("310103", "卢湾区", "county", None, 2011, True),
    ("310104", "徐汇区", "county", None, None, True),
    ("310106", "静安区", "county", None, None, True),
    ("310108", "闸北区", "county", None, 2015, True),
    ("310112", "闵行区", "county", 1981, None, True),
    ("310115", "浦东新区", "county", 1992, None, True),
    ("320000", "江苏省", "province", None, None, True),
    ("320100", "南京市", "prefecture", None, None, True),
    ("320106", "鼓楼区", "county", None, None, True),
    ("320500", "苏州市", "prefecture", None, None, True),
    ("320505", "虎丘区", "county", None, None, True),
    ("330000", "浙江省", "province", None, None, True),
    ("330100", "杭州市", "prefecture", None, None, True),
    ("330106", "西湖区", "county", None, None, True),
    ("330200", "宁波市", "prefecture", None, None, True),
    ("330203", "海曙区", "county", None, None, True),
    ("440000", "广东省", "province", None, None, True),
    ("440300", "深圳市", "prefecture", None, None, True),
    ("440305", "南山区", "county", None, None, True),
    ("520000", "贵州省", "province", None, None, True),
    ("520300", "遵义市", "prefecture", 1997, None, True),
    ("520302", "红花岗区", "county", 1997, None, True),
    ("650000", "新疆维吾尔自治区", "province", None, None, True),
    ("653100", "喀什地区", "prefecture", None, None, True),
    ("653125", "莎车县", "county", None, None, True),
    ("653124", "泽普县", "county", None, None, True),
    ("710000", "台湾省", "province", None, None, False),
    ("810000", "香港特别行政区", "province", 1997, None, False),
    ("820000", "澳门特别行政区", "province", 1999, None, False),
]


def mk_uscc(region: str, seq: int, kind: str = "91") -> str:
    """A USCC with a valid check character: registration authority ``region``."""
    org = f"{seq:08d}"[-8:]
    org = "MA" + org[2:]
    base = f"{kind}{region}{org}0"
    return base + stdnum_uscc.calc_check_digit(base)


def _table_exists(con, name: str) -> bool:
    row = fetch_one(con, "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name])
    row2 = fetch_one(con, "SELECT count(*) FROM duckdb_views() WHERE view_name = ?", [name])
    return bool(row[0] or row2[0])


def ensure_reference(con) -> None:
    """Create stand-in reference tables when crossinvest.reference has not made them."""
    if not _table_exists(con, "ref_regions"):
        run(
            con,
            """CREATE TABLE ref_regions (code VARCHAR, name VARCHAR, province_code VARCHAR, province_name VARCHAR,
                 prefecture_code VARCHAR, prefecture_name VARCHAR, county_name VARCHAR, level VARCHAR,
                 valid_from INTEGER, valid_to INTEGER, is_current BOOLEAN, domestic BOOLEAN)""",
        )
        names = {c: n for c, n, *_ in STAND_IN_REGIONS}
        for code, name, level, vf, vt, dom in STAND_IN_REGIONS:
            prov = code[:2] + "0000"
            pref = None if level == "province" else code[:4] + "00"
            run(
                con,
                "INSERT INTO ref_regions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    code,
                    name,
                    prov,
                    names.get(prov),
                    pref,
                    names.get(pref or ""),
                    name if level == "county" else None,
                    level,
                    vf,
                    vt,
                    vt is None,
                    dom,
                ],
            )
    if not _table_exists(con, "ref_industries"):
        run(
            con,
            """CREATE TABLE ref_industries (level VARCHAR, section VARCHAR, code VARCHAR, name VARCHAR,
                 division_code VARCHAR, division_name VARCHAR, section_name VARCHAR)""",
        )
        text = resources.files("crossinvest.data").joinpath("gbt4754-2017.csv").read_text("utf-8")
        rows = list(csv.DictReader(text.splitlines()))
        sec = {r["section"]: r["name"] for r in rows if r["level"] == "门类"}
        div = {r["code"]: r["name"] for r in rows if r["level"] == "大类"}
        data = [
            (
                r["level"],
                r["section"],
                r["code"] or r["section"],
                r["name"],
                r["code"][:2] if r["code"] else None,
                div.get(r["code"][:2]) if r["code"] else None,
                sec[r["section"]],
            )
            for r in rows
        ]
        con.executemany("INSERT INTO ref_industries VALUES (?, ?, ?, ?, ?, ?, ?)", data)


class World:
    """A warehouse under ``root`` that tests fill row by row."""

    def __init__(self, root: Path):
        self.wh = connect(Home(root))
        self.con = self.wh.con
        ensure_reference(self.con)
        self._row = 0

    def close(self) -> None:
        self.wh.close()

    def _next(self) -> int:
        self._row += 1
        return self._row

    def ent(
        self,
        uscc: str,
        *,
        region: str | None = "310115",
        established: str = "2010-01-01",
        status: str | None = "存续",
        deregistered: str | None = None,
        capital: float | None = 1000.0,
        industry: str | None = "6513",
        section: str | None = "I",
        name: str | None = None,
        batch: int = 1,
    ) -> str:
        run(
            self.con,
            """INSERT INTO registry_rows (batch_id, row_no, is_current, enterprise_key, uscc, name, established_on,
                   registered_capital_wan, region_code, region_source, industry_code, industry_section, status,
                   deregistered_on)
               VALUES (?, ?, true, ?, ?, ?, ?, ?, ?, 'given', ?, ?, ?, ?)""",
            [
                batch,
                self._next(),
                uscc,
                uscc,
                name or f"企业{uscc[-6:]}",
                date.fromisoformat(established),
                capital,
                region,
                industry,
                section,
                status,
                date.fromisoformat(deregistered) if deregistered else None,
            ],
        )
        return uscc

    def holder(
        self,
        ent: str,
        name: str,
        *,
        uscc: str | None = None,
        person_division: str | None = None,
        itype: str | None = None,
        subscribed: float | None = 100.0,
        share: float | None = None,
        region: str | None = None,
        batch: int = 1,
    ) -> None:
        is_person = person_division is not None or itype == "自然人股东"
        itype = itype or ("自然人股东" if is_person else "企业法人")
        key = uscc or (f"P:{name}" if is_person else f"N:{name}")
        run(
            self.con,
            """INSERT INTO shareholders_rows (batch_id, row_no, is_current, enterprise_uscc, investor_key, investor_name,
                   investor_type, investor_id_type, investor_id, is_person, person_division, subscribed_capital_wan,
                   share_ratio, investor_region_code)
               VALUES (?, ?, true, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                batch,
                self._next(),
                ent,
                key,
                name,
                itype,
                "统一社会信用代码" if uscc else None,
                uscc,
                is_person,
                person_division,
                subscribed,
                share,
                region,
            ],
        )
        run(self.con, FILL_INVESTOR_USCC)

    def tax(
        self, uscc: str, month: str, wan: float, *, batch: int = 1, tax_type: str = "增值税"
    ) -> None:
        y, m = month.split("-")
        run(
            self.con,
            """INSERT INTO tax_rows (batch_id, row_no, is_current, taxpayer_key, taxpayer_id, taxpayer_uscc,
                   taxpayer_name, period, tax_type, tax_type_key, tax_paid_wan)
               VALUES (?, ?, true, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                batch,
                self._next(),
                uscc,
                uscc,
                uscc,
                f"纳税人{uscc[-4:]}",
                date(int(y), int(m), 1),
                tax_type,
                tax_type,
                wan,
            ],
        )

    def stat(
        self,
        uscc: str,
        year: int,
        revenue_wan: float | None,
        employees: int | None,
        *,
        batch: int = 1,
    ) -> None:
        run(
            self.con,
            """INSERT INTO stats_rows (batch_id, row_no, is_current, unit_key, uscc, unit_uscc, name, year,
                   employees, revenue_wan)
               VALUES (?, ?, true, ?, ?, ?, ?, ?, ?, ?)""",
            [
                batch,
                self._next(),
                uscc,
                uscc,
                uscc,
                f"单位{uscc[-4:]}",
                year,
                employees,
                revenue_wan,
            ],
        )

    def rebuild(self) -> dict:
        with transaction(self.con):
            return materialize.rebuild_all(self.con)


def test_world_helpers_make_valid_usccs(tmp_path: Path) -> None:
    u = mk_uscc("330106", 7)
    assert stdnum_uscc.is_valid(u) and u[2:8] == "330106"
    w = World(tmp_path / "h")
    try:
        w.ent(mk_uscc("310115", 1))
        assert fetch_one(w.con, "SELECT count(*) FROM registry")[0] == 1
        assert _table_exists(w.con, "ref_regions")
    finally:
        w.close()
