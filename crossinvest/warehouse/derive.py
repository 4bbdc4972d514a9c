"""Fields derived when the delivery leaves them empty.

A registry row without a valid ``region_code`` takes the district named in its
address, else USCC digits 3–8 (data-interface.md). Runs on the few rows that
need it, as joins against ``ref_regions``.
"""

from __future__ import annotations

import duckdb

from crossinvest.warehouse.connection import run

# County-level names: the shortest run ending in 区/县/市/旗 after the
# province/prefecture prefix. Candidates are tried as equi-joins, not LIKE scans.
_CANDIDATES = r"""
    list_distinct([
        regexp_extract(address, '^(?:[^省]{2,8}省|[^区]{2,8}自治区|上海市|北京市|天津市|重庆市)?(?:[^市]{2,8}市)?([^省市区县]{1,8}?(?:新区|区|县|旗|市))', 1),
        regexp_extract(address, '^(?:上海市|上海|北京市|北京|天津市|天津|重庆市|重庆)([^区县]{1,6}?(?:新区|区|县))', 1),
        regexp_extract(address, '(?:市|州|盟|地区)([^市区县]{1,6}?(?:区|县|旗|市))', 1)
    ])
"""


def derive_registry_regions(con: duckdb.DuckDBPyConnection, typed: str) -> None:
    """Fill ``region_code``/``region_source`` for rows whose code is missing or unknown."""
    run(
        con,
        f"""
        UPDATE {typed} AS t SET region_code = m.code, region_source = 'address'
        FROM (
            SELECT c._row, arg_max(r.code, (
                       (left(r.code, 2) = left(c.uscc_div, 2))::INT * 4
                     + (position(left(r.province_name, 2) IN c.address) > 0)::INT * 2
                     + r.is_current::INT)) AS code
            FROM (
                SELECT _row, address, ci_division_from_uscc(uscc) AS uscc_div, unnest({_CANDIDATES}) AS cand
                FROM {typed}
                WHERE region_code IS NULL AND address IS NOT NULL AND _err = 0
            ) c
            JOIN ref_regions r ON r.level = 'county' AND r.name = c.cand
            GROUP BY c._row
        ) m
        WHERE t._row = m._row
        """,
    )
    run(
        con,
        f"""
        UPDATE {typed} AS t SET region_code = r.code, region_source = 'uscc'
        FROM (SELECT DISTINCT code FROM ref_regions) r
        WHERE t.region_code IS NULL AND t._err = 0 AND t.uscc IS NOT NULL
          AND r.code = ci_division_from_uscc(t.uscc)
        """,
    )
