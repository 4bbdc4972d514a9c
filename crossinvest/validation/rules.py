"""The checks of data-interface.md, as SQL built from ``sources.py``.

Each field contributes parsed columns and a list of ``Check``s: a SQL predicate
over the cleaned and parsed columns, a reason in Chinese, and a severity.
``error`` quarantines the row; ``warning`` keeps it with the field unknown.
Everything runs inside DuckDB as a few set-based statements: one pass parses
and flags every row, and only the flagged rows are expanded into reject rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from crossinvest.readers.headers import trailing_brackets
from crossinvest.sources import UNIT_TO_WAN, Field, Source
from crossinvest.validation.macros import UNIT_ALIASES

ERROR = "error"
WARNING = "warning"

# Names of foreign money units as ci_money_parts normalises them, with the
# currency code used for exchange rates and their scale (万 units or units).
FOREIGN_UNITS: dict[str, tuple[str, float]] = {
    "万美元": ("USD", 1.0),
    "美元": ("USD", 1e-4),
    "万港元": ("HKD", 1.0),
    "港元": ("HKD", 1e-4),
    "万欧元": ("EUR", 1.0),
    "欧元": ("EUR", 1e-4),
    "万日元": ("JPY", 1.0),
    "日元": ("JPY", 1e-4),
    "万英镑": ("GBP", 1.0),
    "英镑": ("GBP", 1e-4),
}

# The registry's 币种 column, when it names a foreign currency and the amount has
# no unit of its own, makes the amount 万 units of that currency.
CURRENCY_NAMES: dict[str, str] = {
    "美元": "USD",
    "USD": "USD",
    "港元": "HKD",
    "港币": "HKD",
    "HKD": "HKD",
    "欧元": "EUR",
    "EUR": "EUR",
    "日元": "JPY",
    "JPY": "JPY",
    "英镑": "GBP",
    "GBP": "GBP",
    "美金": "USD",
}
# 币种 values that mean the amount is in CNY, as is a blank one.
CNY_NAMES = ("人民币", "RMB", "CNY", "元", "人民币元")


def convertible_currency_sql(currency_col: str, fx: dict[str, float]) -> str:
    """True when the 币种 column is blank, CNY, or a currency with a rate in ``fx``."""
    names = [*CNY_NAMES, *(n for n, code in CURRENCY_NAMES.items() if code in fx)]
    listed = ", ".join(q(n.upper()) for n in names)
    return f"({currency_col} IS NULL OR upper({currency_col}) IN ({listed}))"


@dataclass(frozen=True)
class Check:
    column: str
    predicate: str  # true when the row fails
    reason: str
    severity: str = ERROR


def q(s: str) -> str:
    """Quote a Python string as a SQL literal."""
    return "'" + s.replace("'", "''") + "'"


def _unit_factor_sql(
    unit_col: str, default: float, fx: dict[str, float], currency_col: str | None
) -> str:
    """A CASE giving the factor that turns (number, unit) into 万元; NULL for an unknown unit.

    ``default`` is the factor of a number without a unit of its own.
    """
    whens = [f"WHEN {unit_col} = {q(u)} THEN {f!r}" for u, f in UNIT_TO_WAN.items()]
    whens += [
        f"WHEN {unit_col} = {q(u)} THEN {scale * fx[code]!r}"
        for u, (code, scale) in FOREIGN_UNITS.items()
        if code in fx
    ]
    blank = f"{default!r}"
    if currency_col:
        # Matched with ASCII case folded ('usd'); a currency without a rate leaves a
        # bare amount unknown (NULL) rather than taken for CNY.
        cur_whens = " ".join(
            f"WHEN upper({currency_col}) = {q(name.upper())} THEN {fx[code]!r}"
            for name, code in CURRENCY_NAMES.items()
            if code in fx
        )
        known = convertible_currency_sql(currency_col, fx)
        blank = f"CASE {cur_whens} WHEN {known} THEN {default!r} END"
    return f"CASE WHEN {unit_col} = '' THEN {blank} {' '.join(whens)} ELSE NULL END"


# A bracket naming the currency alone says nothing of the scale: '注册资本（万元）（人民币）'.
_CURRENCY_ONLY = {"人民币", "RMB", "CNY"}


def header_money_unit(header: str) -> str | None:
    """The money unit a header names in a trailing bracket, as ``ci_money_parts`` spells it.

    Matching ignores that bracket (data-interface.md, "Header names"); the values in
    the column are still in that unit, whatever the bureau's usual one.

    >>> header_money_unit("实缴税额（万元）"), header_money_unit("Revenue [USD]")
    ('万元', '美元')
    >>> header_money_unit("注册资本（人民币）") is None, header_money_unit("出资比例(%)") is None
    (True, True)
    """
    for text in trailing_brackets(header):
        if text in _CURRENCY_ONLY or text.upper() in _CURRENCY_ONLY:
            continue
        unit = UNIT_ALIASES.get(text) or UNIT_ALIASES.get(text.upper())
        if unit and unit != "%":
            return unit
    return None


def unit_factor(unit: str, fx: dict[str, float]) -> float | None:
    """万元 per one of ``unit`` (a canonical unit), or None for a currency without a rate."""
    if unit in UNIT_TO_WAN:
        return UNIT_TO_WAN[unit]
    if unit in FOREIGN_UNITS and FOREIGN_UNITS[unit][0] in fx:
        code, scale = FOREIGN_UNITS[unit]
        return scale * fx[code]
    return None


@dataclass
class FieldSQL:
    """SQL pieces for one field.

    ``clean`` turns the staged raw column into ``c_<name>``. ``level2`` are
    columns computed from the cleaned ones (parsers run once per row here),
    ``level3`` columns computed from those. ``outputs`` maps warehouse columns
    to the level-2/3 column holding them. ``checks`` may use any of these.
    """

    clean: str
    level2: dict[str, str]
    level3: dict[str, str]
    outputs: dict[str, str]
    checks: list[Check]


def field_sql(
    source: Source, f: Field, present: bool, fx: dict[str, float], header_unit: str | None = None
) -> FieldSQL:
    """Build the SQL for one field. ``present`` is false when the file lacks the column.

    ``header_unit``: the unit the file's header names for this column, if any
    (``header_money_unit``); it replaces the source's usual unit for a money field.
    """
    raw = f'"{f.name}"' if present else "NULL::VARCHAR"
    c = f"c_{f.name}"
    p = f"p_{f.name}"
    l2: dict[str, str] = {}
    l3: dict[str, str] = {}
    out: dict[str, str] = {}
    checks: list[Check] = []
    label = f.canonical
    if f.required:
        checks.append(Check(f.name, f"{c} IS NULL", f"缺少必填字段「{label}」"))

    if f.kind == "text":
        out[f.name] = c
    elif f.kind in ("uscc", "id"):
        l2[p] = f"upper(replace({c}, ' ', ''))"
        out[f.name] = p
        if f.kind == "uscc":
            l3[f"v_{f.name}"] = f"ci_uscc_valid({p})"
            checks.append(
                Check(
                    f.name,
                    f"{c} IS NOT NULL AND NOT v_{f.name}",
                    f"「{label}」校验位不符或格式错误",
                )
            )
    elif f.kind == "date":
        l2[p] = f"ci_parse_date({c})"
        out[f.name] = p
        checks.append(Check(f.name, f"{c} IS NOT NULL AND {p} IS NULL", f"「{label}」不是有效日期"))
    elif f.kind == "money":
        usual = f.unit or "万元"
        stated = unit_factor(header_unit, fx) if header_unit else None
        default = UNIT_TO_WAN[usual] if stated is None else stated
        # The registry's 币种 says which currency a bare amount is in; a header that
        # names another unit than the usual one has said so already.
        cur = (
            "c_currency"
            if source.name == "registry"
            and f.name == "registered_capital"
            and (stated is None or header_unit == usual)
            else None
        )
        l2[f"m_{f.name}"] = f"ci_money_parts({c})"
        l3[f"u_{f.name}"] = _unit_factor_sql(f"m_{f.name}.unit", default, fx, cur)
        value = f"(m_{f.name}.num * u_{f.name})"
        out[f"{f.name}_wan"] = value
        # A bare amount in a currency without a rate is kept, its value unknown.
        foreign = (
            f"{c} IS NOT NULL AND m_{f.name}.unit = '' AND NOT {convertible_currency_sql(cur, fx)}"
            if cur
            else "false"
        )
        checks.append(
            Check(
                f.name,
                f"{c} IS NOT NULL AND (m_{f.name}.num IS NULL OR u_{f.name} IS NULL) "
                f"AND NOT ({foreign})",
                f"「{label}」不是有效金额",
            )
        )
        if cur:
            checks.append(
                Check(
                    "currency",
                    f"m_{f.name}.num IS NOT NULL AND ({foreign})",
                    f"「币种」无法换算为人民币，「{label}」记为未知",
                    WARNING,
                )
            )
        if not f.signed:
            checks.append(Check(f.name, f"{value} < 0", f"「{label}」为负数"))
    elif f.kind == "count":
        l2[p] = f"ci_parse_count({c})"
        out[f.name] = p
        checks.append(
            Check(f.name, f"{c} IS NOT NULL AND {p} IS NULL", f"「{label}」不是有效的非负整数")
        )
    elif f.kind == "ratio":
        # Fast path for bare numbers: '35' -> 0.35, '0.35' -> 0.35.
        l2[p] = (
            f"CASE WHEN isfinite(TRY_CAST({c} AS DOUBLE)) THEN "
            f"CASE WHEN TRY_CAST({c} AS DOUBLE) > 1 THEN TRY_CAST({c} AS DOUBLE) / 100 ELSE TRY_CAST({c} AS DOUBLE) END "
            # '35%' is a third of real rows: ci_parse_ratio costs 5x this test.
            f"WHEN regexp_full_match({c}, '[0-9]+(?:\\.[0-9]+)?%') THEN TRY_CAST(left({c}, -1) AS DOUBLE) / 100 "
            f"ELSE ci_parse_ratio({c}) END"
        )
        out[f.name] = p
        checks.append(Check(f.name, f"{c} IS NOT NULL AND {p} IS NULL", f"「{label}」不是有效比例"))
        checks.append(Check(f.name, f"{p} < 0 OR {p} > 1", f"「{label}」超出 0–100%"))
    elif f.kind == "period":
        l2[p] = f"ci_parse_period({c})"
        out[f.name] = p
        checks.append(Check(f.name, f"{c} IS NOT NULL AND {p} IS NULL", f"「{label}」不是有效月份"))
    elif f.kind == "year":
        l2[p] = f"ci_parse_year({c})"
        out[f.name] = p
        checks.append(Check(f.name, f"{c} IS NOT NULL AND {p} IS NULL", f"「{label}」不是有效年份"))
    elif f.kind == "region":
        # Resolved by a join in the loader (rg_<name> = matching ref_regions code).
        out[f.name] = f"rg_{f.name}"
        checks.append(
            Check(
                f.name,
                f"{c} IS NOT NULL AND rg_{f.name} IS NULL",
                f"「{label}」不在 GB/T 2260 行政区划代码中",
                WARNING,
            )
        )
    elif f.kind == "industry":
        # Fast paths for '6513' and 'I6513'; anything else goes through the macro.
        l2[f"i_{f.name}"] = (
            f"CASE WHEN length({c}) = 4 AND TRY_CAST({c} AS USMALLINT) IS NOT NULL "
            f"THEN {{'section': NULL::VARCHAR, 'code': {c}}} "
            f"WHEN length({c}) = 5 AND {c}[1] BETWEEN 'A' AND 'T' AND TRY_CAST({c}[2:] AS USMALLINT) IS NOT NULL "
            f"THEN {{'section': {c}[1], 'code': {c}[2:]}} "
            f"ELSE ci_industry_parts({c}) END"
        )
        # Resolved by a join in the loader (ind_<name> = matching 小类 code).
        out[f.name] = f"ind_{f.name}"
        checks.append(
            Check(
                f.name,
                f"{c} IS NOT NULL AND ind_{f.name} IS NULL",
                f"「{label}」不在 GB/T 4754-2017 小类中或门类字母不符",
                WARNING,
            )
        )
    else:  # pragma: no cover - sources.py and this module move together
        raise ValueError(f"unknown field kind {f.kind!r}")
    return FieldSQL(clean=f"ci_clean({raw})", level2=l2, level3=l3, outputs=out, checks=checks)


def identity_checks(source: Source) -> list[Check]:
    """Row-identity rules that span fields (data-interface.md, 'What decides')."""
    if source.name == "registry":
        return [
            Check("uscc", "c_uscc IS NULL AND c_reg_no IS NULL", "缺少统一社会信用代码和注册号"),
            Check(
                "reg_no",
                "c_uscc IS NULL AND c_reg_no IS NOT NULL AND NOT regexp_full_match(c_reg_no, '[0-9]{13}|[0-9]{15}')",
                "「注册号」应为 13 或 15 位数字",
            ),
            Check(
                "reg_no",
                "c_uscc IS NOT NULL AND c_reg_no IS NOT NULL AND NOT regexp_full_match(c_reg_no, '[0-9]{13}|[0-9]{15}')",
                "「注册号」应为 13 或 15 位数字（已忽略）",
                WARNING,
            ),
        ]
    return []
