"""Resolved reference lookups the statistics join against (small; rebuilt on every refresh).

``ref_regions`` (GB/T 2260 incl. historical codes) and ``ref_industries`` (GB/T
4754-2017) belong to ``crossinvest.reference``. The statistics need them in one
shape, one row per code, with the project's conventions applied on top:

- a code reused over time resolves to its current row, else its latest one;
- the four municipalities (11, 12, 31, 50) are their own prefecture;
- ``100000`` is its own origin 「国家级登记」 at every level, domestic;
- 71/81/82 (Taiwan, Hong Kong, Macau) are not domestic;
- a Shanghai county-level code has a ``district``: itself, or for an abolished
  district the district that took it over (``SHANGHAI_SUCCESSOR``), so that the
  district dimension reads as today's districts.

These tables are tiny (≈7,000 rows) and are exported as they are when statistics
run on Spark.
"""

from __future__ import annotations

import duckdb

from crossinvest.warehouse.connection import fetch_one, run

NATIONAL_CODE = "100000"
NATIONAL_NAME = "国家级登记"
SHANGHAI = "310000"
MUNICIPALITIES = ("11", "12", "31", "50")
NON_DOMESTIC_PREFIXES = ("71", "81", "82")

# Abolished Shanghai county-level divisions -> today's district (GB/T 2260 history).
SHANGHAI_SUCCESSOR: dict[str, str] = {
    "310102": "310101",  # 南市区 -> 黄浦区 (2000)
    "310103": "310101",  # 卢湾区 -> 黄浦区 (2011)
    "310108": "310106",  # 闸北区 -> 静安区 (2015)
    "310111": "310113",  # 吴淞区 -> 宝山区 (1988)
    "310119": "310115",  # 南汇区 -> 浦东新区 (2009)
    "310201": "310112",  # 上海县 -> 闵行区
    "310202": "310114",  # 嘉定县 -> 嘉定区
    "310203": "310113",  # 宝山县 -> 宝山区
    "310204": "310115",  # 川沙县 -> 浦东新区
    "310205": "310115",  # 南汇县 -> 浦东新区
    "310206": "310120",  # 奉贤县 -> 奉贤区
    "310207": "310117",  # 松江县 -> 松江区
    "310208": "310116",  # 金山县 -> 金山区
    "310209": "310118",  # 青浦县 -> 青浦区
    "310210": "310151",  # 崇明县 -> 崇明区
    "310221": "310112",  # 上海县 -> 闵行区 (1992)
    "310222": "310114",  # 嘉定县 -> 嘉定区 (1992)
    "310223": "310113",  # 宝山县 -> 宝山区 (1988)
    "310224": "310115",  # 川沙县 -> 浦东新区 (1992)
    "310225": "310115",  # 南汇县 -> 南汇区 (2001) -> 浦东新区 (2009)
    "310226": "310120",  # 奉贤县 -> 奉贤区 (2001)
    "310227": "310117",  # 松江县 -> 松江区 (1998)
    "310228": "310116",  # 金山县 -> 金山区 (1997)
    "310229": "310118",  # 青浦县 -> 青浦区 (1999)
    "310230": "310151",  # 崇明县 -> 崇明区 (2016)
}

LOOKUP_DDL = """
CREATE TABLE IF NOT EXISTS an_region_lookup (
    code VARCHAR PRIMARY KEY,
    name VARCHAR,
    province_code VARCHAR,
    province_name VARCHAR,
    prefecture_code VARCHAR,
    prefecture_name VARCHAR,
    district_code VARCHAR,          -- Shanghai county level, successor applied
    district_name VARCHAR,
    domestic BOOLEAN NOT NULL
);
CREATE TABLE IF NOT EXISTS an_industry_lookup (
    division_code VARCHAR,          -- 2 digits; NULL on the section-only rows
    division_name VARCHAR,
    section VARCHAR,
    section_name VARCHAR
);
CREATE TABLE IF NOT EXISTS an_support_lookup (
    code VARCHAR,                   -- an enterprise's region_code
    support_code VARCHAR,           -- the supported region it falls in
    support_name VARCHAR,
    valid_from DATE,
    valid_to DATE
);
"""


class ReferenceMissing(RuntimeError):
    """``ref_regions`` / ``ref_industries`` are not in the warehouse."""


def _table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = fetch_one(
        con,
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND NOT temporary",
        [name],
    )
    if row and row[0]:
        return True
    row = fetch_one(con, "SELECT count(*) FROM duckdb_views() WHERE view_name = ?", [name])
    return bool(row and row[0])


def refresh_lookups(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild the three lookups from the reference tables (inside the caller's transaction)."""
    for ref in ("ref_regions", "ref_industries"):
        if not _table_exists(con, ref):
            raise ReferenceMissing(
                f"参考数据缺失：仓库中没有 {ref} 表（由 crossinvest.reference 建立）"
            )
    run(con, "DELETE FROM an_region_lookup")
    successor = ", ".join(f"('{k}', '{v}')" for k, v in SHANGHAI_SUCCESSOR.items())
    run(
        con,
        f"""
        INSERT INTO an_region_lookup
        WITH one AS (
            SELECT * FROM ref_regions
            QUALIFY row_number() OVER (
                PARTITION BY code
                ORDER BY is_current DESC NULLS LAST, valid_to DESC NULLS FIRST, valid_from DESC NULLS LAST
            ) = 1
        ),
        base AS (
            SELECT code, coalesce(name, county_name) AS name,
                   coalesce(province_code, left(code, 2) || '0000') AS province_code,
                   province_name,
                   CASE WHEN left(code, 2) IN {MUNICIPALITIES} THEN left(code, 2) || '0000'
                        WHEN prefecture_code IS NOT NULL THEN prefecture_code
                        WHEN right(code, 2) <> '00' THEN left(code, 4) || '00'
                        WHEN right(code, 4) <> '0000' THEN code
                   END AS prefecture_code,
                   coalesce(domestic, true) AND left(code, 2) NOT IN {NON_DOMESTIC_PREFIXES} AS domestic
            FROM one
            WHERE code <> '{NATIONAL_CODE}'
        ),
        succ(code, successor) AS (VALUES {successor}),
        named AS (
            SELECT b.*,
                   CASE WHEN left(b.code, 2) = '31' AND right(b.code, 2) <> '00'
                        THEN coalesce(s.successor, b.code) END AS district_code
            FROM base b LEFT JOIN succ s USING (code)
        )
        SELECT n.code, n.name, n.province_code, coalesce(p.name, n.province_name), n.prefecture_code,
               pf.name, n.district_code, d.name, n.domestic
        FROM named n
        LEFT JOIN base p ON p.code = n.province_code
        LEFT JOIN base pf ON pf.code = n.prefecture_code
        LEFT JOIN base d ON d.code = n.district_code
        UNION ALL
        SELECT '{NATIONAL_CODE}', '{NATIONAL_NAME}', '{NATIONAL_CODE}', '{NATIONAL_NAME}',
               '{NATIONAL_CODE}', '{NATIONAL_NAME}', NULL, NULL, true
        """,
    )
    run(con, "DELETE FROM an_industry_lookup")
    run(
        con,
        """
        INSERT INTO an_industry_lookup
        SELECT DISTINCT division_code, division_name, section, section_name
        FROM ref_industries WHERE division_code IS NOT NULL
        UNION ALL
        SELECT DISTINCT NULL, NULL, section, section_name
        FROM ref_industries WHERE section IS NOT NULL
        """,
    )
    refresh_support_lookup(con)


def refresh_support_lookup(con: duckdb.DuckDBPyConnection) -> None:
    """Flatten the current support-region version to region_code -> support region.

    A county entry covers its code and its historical codes; a prefecture entry
    covers every code whose prefecture is it (or one of its historical codes).
    Where both match, the county entry wins.
    """
    run(con, "DELETE FROM an_support_lookup")
    run(
        con,
        """
        INSERT INTO an_support_lookup
        WITH cur AS (
            SELECT * FROM support_regions WHERE version_to IS NULL
        ),
        codes AS (
            SELECT region_code AS support_code, region_code AS code, level, region_name, valid_from, valid_to
            FROM cur
            UNION ALL
            SELECT region_code, trim(h.code), level, region_name, valid_from, valid_to
            FROM cur, unnest(string_split(coalesce(historical_codes, ''), ';')) AS h(code)
            WHERE trim(h.code) <> ''
        ),
        expanded AS (
            SELECT c.code, c.support_code, c.region_name, c.valid_from, c.valid_to, 1 AS prio
            FROM codes c WHERE c.level = 'county'
            UNION ALL
            SELECT r.code, c.support_code, c.region_name, c.valid_from, c.valid_to, 2
            FROM codes c JOIN an_region_lookup r
              ON (r.prefecture_code = c.code OR r.code = c.code)
            WHERE c.level = 'prefecture'
        )
        SELECT code, support_code, region_name, valid_from, valid_to
        FROM expanded
        QUALIFY row_number() OVER (PARTITION BY code ORDER BY prio, support_code) = 1
        """,
    )
