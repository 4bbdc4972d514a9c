"""DuckDB SQL macros that parse and check delivered text, set-based.

Every macro is NULL-safe (NULL or blank in, NULL out) and is created with
``CREATE OR REPLACE`` by ``install_macros``, which every connection calls.
Python oracles with the same semantics live in ``validation.parsers`` and the
Hypothesis tests compare the two.
"""

from __future__ import annotations

import duckdb

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
RIC_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))  # 7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2

_FULL = "".join(chr(c) for c in range(0xFF01, 0xFF5F)) + "\u3000"
_HALF = "".join(chr(c) for c in range(0x21, 0x7F)) + " "


def _q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _uscc_valid_sql() -> str:
    # Unrolled: one strpos per character. strpos returns 0 for a character not in
    # the set; regexp_full_match rejects those first, so 0 never reaches the sum.
    cs = _q(USCC_CHARSET)
    terms = " + ".join(f"(strpos({cs}, s[{i + 1}]) - 1) * {w}" for i, w in enumerate(USCC_WEIGHTS))
    return (
        f"CASE WHEN s IS NULL THEN NULL "
        f"WHEN length(s) <> 18 OR NOT regexp_full_match(s, '[0-9A-HJ-NP-RTUW-Y]{{18}}') THEN false "
        f"ELSE s[18] = {cs}[((31 - ({terms}) % 31) % 31) + 1] END"
    )


def _ric_valid_sql() -> str:
    terms = " + ".join(f"(ascii(s[{i + 1}]) - 48) * {w}" for i, w in enumerate(RIC_WEIGHTS))
    return (
        "CASE WHEN s IS NULL THEN NULL "
        "WHEN NOT regexp_full_match(s, '[0-9]{17}[0-9X]') THEN false "
        "WHEN try_strptime(substr(s, 7, 8), '%Y%m%d') IS NULL THEN false "
        f"ELSE s[18] = '10X98765432'[(({terms}) % 11) + 1] END"
    )


# Normalised money units. Variants map to one spelling; the loader maps units
# to 万元 factors (validation.rules).
_UNIT_ALIASES = {
    "": "",
    "元": "元",
    "元人民币": "元",
    "人民币元": "元",
    "RMB": "元",
    "CNY": "元",
    "千元": "千元",
    "千元人民币": "千元",
    "万元": "万元",
    "万元人民币": "万元",
    "人民币万元": "万元",
    "万人民币": "万元",
    "万": "万元",
    "百万元": "百万元",
    "亿元": "亿元",
    "亿元人民币": "亿元",
    "万美元": "万美元",
    "美元": "美元",
    "USD": "美元",
    "万港元": "万港元",
    "万港币": "万港元",
    "港元": "港元",
    "港币": "港元",
    "HKD": "港元",
    "万欧元": "万欧元",
    "欧元": "欧元",
    "EUR": "欧元",
    "万日元": "万日元",
    "日元": "日元",
    "JPY": "日元",
    "万英镑": "万英镑",
    "英镑": "英镑",
    "GBP": "英镑",
    "%": "%",
}


def _unit_map_sql() -> str:
    keys = ", ".join(_q(k) for k in _UNIT_ALIASES)
    vals = ", ".join(_q(v) for v in _UNIT_ALIASES.values())
    return f"MAP([{keys}], [{vals}])"


MACROS: list[str] = [
    # Full-width ASCII to half-width, trim any whitespace, NULL when empty.
    f"""CREATE OR REPLACE MACRO ci_clean(s) AS
        nullif(trim(translate(s::VARCHAR, {_q(_FULL)}, {_q(_HALF)}), ' ' || chr(9) || chr(10) || chr(13) || chr(160)), '')""",
    f"CREATE OR REPLACE MACRO ci_uscc_valid(s) AS ({_uscc_valid_sql()})",
    f"CREATE OR REPLACE MACRO ci_resident_id_valid(s) AS ({_ric_valid_sql()})",
    "CREATE OR REPLACE MACRO ci_division_from_uscc(s) AS substr(s, 3, 6)",
    # Dates: the spec's text forms, an optional time part, Excel serials.
    r"""CREATE OR REPLACE MACRO ci_parse_date(s) AS (
        CASE
          WHEN s IS NULL THEN NULL
          WHEN regexp_full_match(s, '[0-9]{8}') THEN try_strptime(s, '%Y%m%d')::DATE
          WHEN regexp_full_match(s, '[0-9]{1,7}(\.0+)?') THEN
               CASE WHEN TRY_CAST(s AS DOUBLE) BETWEEN 1 AND 2958465
                    THEN DATE '1899-12-30' + CAST(TRY_CAST(s AS DOUBLE) AS INTEGER) END
          ELSE (
            SELECT CASE WHEN m[1] IS NOT NULL
                        THEN try_strptime(m[1] || '-' || m[2] || '-' || m[3], '%Y-%m-%d')::DATE END
            FROM (SELECT regexp_extract(s,
                   '^\s*([0-9]{4})\s*[-/.年]\s*([0-9]{1,2})\s*[-/.月]\s*([0-9]{1,2})\s*日?(?:[ T][0-9:.]+)?\s*$',
                   ['y', 'm', 'd']) AS r)
            CROSS JOIN (SELECT [nullif(r.y, ''), r.m, r.d] AS m)
          )
        END)""",
    # Money: number (thousands separators allowed) and a normalised unit suffix.
    rf"""CREATE OR REPLACE MACRO ci_money_parts(s) AS (
        CASE WHEN s IS NULL THEN NULL ELSE (
          SELECT {{'num': TRY_CAST(replace(r.n, ',', '') AS DOUBLE),
                  'unit': COALESCE({_unit_map_sql()}[upper(trim(r.u))], trim(r.u))}}
          FROM (SELECT regexp_extract(replace(s, ' ', ''),
                 '^((?:[+-])?(?:[0-9]{{1,3}}(?:,[0-9]{{3}})+|[0-9]+)(?:\.[0-9]+)?|(?:[+-])?\.[0-9]+)(.*)$',
                 ['n', 'u']) AS r)
        ) END)""",
    # Ratios: '35%' and '35' and '0.35' all mean 0.35. Not range-checked.
    r"""CREATE OR REPLACE MACRO ci_parse_ratio(s) AS (
        CASE WHEN s IS NULL THEN NULL
             WHEN regexp_full_match(s, '[+-]?[0-9]*\.?[0-9]+\s*[%％]') THEN
                  TRY_CAST(rtrim(rtrim(s, '%％')) AS DOUBLE) / 100
             WHEN TRY_CAST(s AS DOUBLE) IS NULL THEN NULL
             WHEN TRY_CAST(s AS DOUBLE) > 1 THEN TRY_CAST(s AS DOUBLE) / 100
             ELSE TRY_CAST(s AS DOUBLE) END)""",
    # Months: 2018-03, 201803, 2018年03月, 2018/3, and ranges within one month.
    r"""CREATE OR REPLACE MACRO ci_parse_period(s) AS (
        CASE WHEN s IS NULL THEN NULL
             WHEN contains(s, '至') OR regexp_matches(s, '[0-9]\s*[-~]\s*[0-9]{4}[-/.年]') THEN (
                 SELECT CASE WHEN a IS NOT NULL AND b IS NOT NULL AND date_trunc('month', a) = date_trunc('month', b)
                                  AND a <= b
                             THEN date_trunc('month', a)::DATE END
                 FROM (SELECT ci_parse_date(trim(regexp_extract(s, '^(.*?)\s*(?:至|~|--)\s*(.*)$', 1))) AS a,
                              ci_parse_date(trim(regexp_extract(s, '^(.*?)\s*(?:至|~|--)\s*(.*)$', 2))) AS b))
             ELSE (
                 SELECT CASE WHEN r.y <> '' AND TRY_CAST(r.m AS INTEGER) BETWEEN 1 AND 12
                             THEN make_date(TRY_CAST(r.y AS INTEGER), TRY_CAST(r.m AS INTEGER), 1) END
                 FROM (SELECT regexp_extract(s, '^\s*([0-9]{4})\s*(?:[-/.年]\s*([0-9]{1,2})\s*月?|([0-9]{2}))\s*$',
                              ['y', 'm', 'm2']) AS r0)
                 CROSS JOIN (SELECT {'y': r0.y, 'm': CASE WHEN r0.m <> '' THEN r0.m ELSE r0.m2 END} AS r)
             ) END)""",
    r"""CREATE OR REPLACE MACRO ci_parse_year(s) AS (
        CASE WHEN s IS NULL THEN NULL ELSE (
          SELECT CASE WHEN v BETWEEN 1949 AND 2100 THEN v END
          FROM (SELECT TRY_CAST(regexp_extract(s, '^\s*([0-9]{4})(?:\.0+)?\s*年?\s*$', 1) AS INTEGER) AS v)
        ) END)""",
    r"""CREATE OR REPLACE MACRO ci_parse_count(s) AS (
        CASE WHEN s IS NULL THEN NULL ELSE (
          SELECT CASE WHEN v >= 0 AND v = floor(v) AND v < 9e15 THEN v::BIGINT END
          FROM (SELECT TRY_CAST(replace(regexp_extract(s, '^\s*([+]?[0-9][0-9,]*(?:\.[0-9]+)?)\s*(?:人|个)?\s*$', 1),
                                        ',', '') AS DOUBLE) AS v)
        ) END)""",
    r"""CREATE OR REPLACE MACRO ci_industry_parts(s) AS (
        CASE WHEN s IS NULL THEN NULL ELSE (
          SELECT {'section': nullif(upper(r.sec), ''), 'code': nullif(r.code, '')}
          FROM (SELECT regexp_extract(replace(s, ' ', ''), '^([A-Ta-t]?)([0-9]{2,4})$', ['sec', 'code']) AS r)
        ) END)""",
]


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Create (or replace) every ``ci_*`` macro on ``con``."""
    for sql in MACROS:
        con.execute(sql)
