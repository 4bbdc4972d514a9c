"""Turn a staged file (raw text) into a typed table with error and warning masks.

One ``CREATE TEMP TABLE … AS SELECT`` parses every field, resolves division and
industry codes by join, derives the source's natural key, and sets two bit
masks per row: ``_err`` (bit i set when error check i fails) and ``_warn``.
The checks themselves are returned so the loader can expand the masks of the
few flagged rows into reject rows with a join, never a Python loop.
"""

from __future__ import annotations

from dataclasses import dataclass

from crossinvest.sources import Source
from crossinvest.validation.rules import (
    ERROR,
    WARNING,
    Check,
    field_sql,
    header_money_unit,
    identity_checks,
    q,
)

# Cap on checks per severity: masks are BIGINT.
MAX_CHECKS = 62


@dataclass
class TypedPlan:
    sql: str
    errors: list[Check]
    warnings: list[Check]
    outputs: list[str]  # warehouse columns produced, in table order


def _derived(source: Source) -> dict[str, str]:
    """Source-specific columns computed from the parsed ones (natural keys, persons)."""
    if source.name == "registry":
        return {
            "enterprise_key": "CASE WHEN v_uscc THEN p_uscc ELSE 'R:' || p_reg_no END",
            "uscc": "CASE WHEN v_uscc THEN p_uscc END",
            "reg_no": "CASE WHEN regexp_full_match(p_reg_no, '[0-9]{13}|[0-9]{15}') THEN p_reg_no END",
            "currency": "COALESCE(c_currency, '人民币')",
            "region_source": "CASE WHEN rg_region_code IS NOT NULL THEN 'given' END",
            "industry_section": "indsec_industry_code",
        }
    if source.name == "shareholders":
        # is_person and pid_hash are computed once in the level-4 select
        # (_level4): the ID checks are large expressions, and DuckDB does not
        # share common subexpressions across CASE branches.
        return {
            "is_person": "_is_person",
            "investor_id": "CASE WHEN _is_person THEN NULL ELSE p_investor_id END",
            # _iuscc_ok, not the macro again: inside CASE the macro's shared
            # subexpressions are evaluated once per reference (5x the whole statement).
            "investor_uscc": "CASE WHEN NOT _is_person AND _iuscc_ok THEN p_investor_id END",
            "person_division": "CASE WHEN _is_person AND length(p_investor_id) >= 15 THEN left(p_investor_id, 6) END",
            # The hash is already in investor_key ('P:' || hash): not stored twice
            # (64 bytes a person); the shareholders view derives the column from it.
            "person_id_hash": "NULL::VARCHAR",
            "investor_key": (
                "CASE WHEN _is_person AND p_investor_id IS NOT NULL THEN 'P:' || _pid_hash "
                "WHEN p_investor_id IS NOT NULL THEN p_investor_id ELSE 'N:' || c_investor_name END"
            ),
        }
    if source.name == "tax":
        return {
            "taxpayer_key": "COALESCE(p_taxpayer_id, 'N:' || c_taxpayer_name)",
            "taxpayer_uscc": "CASE WHEN _tuscc_ok THEN p_taxpayer_id END",
            "tax_type_key": "COALESCE(c_tax_type, '')",
        }
    if source.name == "stats":
        return {
            "unit_key": "COALESCE(p_uscc, 'N:' || c_name)",
            "unit_uscc": "CASE WHEN _uuscc_ok THEN p_uscc END",
        }
    raise ValueError(source.name)


# Declared investor types decide whether a shareholder is a person; the ID
# checks decide only for rows that declare neither.
_PERSON_DECLARED = (
    "CASE WHEN COALESCE(c_investor_type, '') LIKE '%自然人%' "
    "OR COALESCE(c_investor_id_type, '') LIKE '%身份证%' THEN true "
    "WHEN COALESCE(c_investor_id_type, '') LIKE '%信用代码%' "
    "OR COALESCE(c_investor_type, '') SIMILAR TO '.*(企业|法人|公司|合伙|团体|机构).*' THEN false END"
)

# Columns with a handful of distinct values (types, statuses, authorities).
# They are cleaned once per distinct value (or combination, for a group) and
# joined back: ci_clean costs ~0.3 us per Chinese value, the join ~0.04 us.
# Values derived only from the group's columns are computed there as well.
CATEGORICAL: dict[str, list[tuple[str, ...]]] = {
    "registry": [("entity_type",), ("currency",), ("registration_authority",), ("status",)],
    "shareholders": [("investor_type", "investor_id_type")],
    "tax": [("tax_type",)],
}
_GROUP_DERIVED: dict[tuple[str, ...], dict[str, str]] = {
    ("investor_type", "investor_id_type"): {"_person_declared": _PERSON_DECLARED},
}


def _categorical_joins(
    source: Source, staged_table: str, present: set[str]
) -> tuple[list[str], list[str], set[str]]:
    """(l1 columns, joins, names they define) for the categorical groups present in the file.

    Every group is one LEFT JOIN of the staged table against its distinct values
    (NULL matching NULL), so each row gets exactly one match.
    """
    cols: list[str] = []
    joins: list[str] = []
    defined: set[str] = set()
    for k, group in enumerate(CATEGORICAL.get(source.name, [])):
        have = [f for f in group if f in present]
        if not have:
            continue
        alias = f"cat{k}"
        keys = ", ".join(f'"{f}" AS k_{f}' for f in have)
        cleaned = ", ".join(
            f"ci_clean(k_{f}) AS c_{f}" if f in have else f"NULL::VARCHAR AS c_{f}" for f in group
        )
        derived = _GROUP_DERIVED.get(group, {})
        extra = "".join(f", {expr} AS {name}" for name, expr in derived.items())
        on = " AND ".join(f'{alias}.k_{f} IS NOT DISTINCT FROM s."{f}"' for f in have)
        joins.append(
            f"LEFT JOIN (SELECT d.*{extra} FROM (SELECT k.*, {cleaned} "
            f"FROM (SELECT DISTINCT {keys} FROM {staged_table}) k) d) {alias} ON {on}"
        )
        names = [f"c_{f}" for f in have] + list(derived)
        cols += [f"{alias}.{n}" for n in names]
        defined.update(names)
    return cols, joins, defined


def _level3_extra(source: Source, defined: set[str]) -> dict[str, str]:
    """Source-specific values needed by the level-4 columns, each evaluated once."""
    if source.name == "shareholders":
        return {
            **({} if "_person_declared" in defined else {"_person_declared": _PERSON_DECLARED}),
            # The check macros rely on DuckDB sharing subexpressions, which it does
            # in a plain select list only: keep them out of AND/OR.
            "_rid_ok": "ci_resident_id_valid(p_investor_id)",
            "_iuscc_ok": "ci_uscc_valid(p_investor_id)",
        }
    if source.name == "tax":
        return {"_tuscc_ok": "ci_uscc_valid(p_taxpayer_id)"}
    if source.name == "stats":
        return {"_uuscc_ok": "ci_uscc_valid(p_uscc)"}
    return {}


# The layout of a resident ID (GB 11643): 18 characters with a birth date in digits
# 7-14, or the older 15 digits with a six-digit birth date in digits 7-12. An ID of
# this layout whose check digit is wrong is still somebody's ID, mistyped.
RESIDENT_ID_LAYOUT_RE = (
    r"[1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9X]"
    r"|[1-9][0-9]{5}[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}"
)
# Words of an organisation's name. An undeclared shareholder whose number merely has
# the layout of an ID (a 15-digit registration number may) is kept as an organisation
# when its name says it is one.
ORGANISATION_NAME_RE = (
    "公司|企业|合伙|集团|有限|股份|控股|投资|银行|基金|中心|研究|大学|学院|学校|医院"
    "|政府|委员会|协会|商会|事务所|合作社|工作室|管理|资产"
    r"|(?i:\b(?:ltd|limited|inc|llc|corp|corporation|company|gmbh|holdings?|co)\b)"
)
# Who is a natural person, so that the ID is kept only as division and keyed hash:
# 1. a valid resident ID that is not a valid USCC is personal data, whatever the
#    row declares (the spec: the full number must never be stored);
# 2. otherwise the declared investor type or ID type decides;
# 3. undeclared, a valid USCC is an organisation, and a number with an ID's layout
#    (15 digits, or a wrong check digit) a person unless the name is an organisation's.
_PERSON = (
    "CASE WHEN COALESCE(_rid_ok, false) AND NOT COALESCE(_iuscc_ok, false) THEN true "
    "ELSE COALESCE(_person_declared, CASE WHEN COALESCE(_iuscc_ok, false) THEN false ELSE "
    f"COALESCE(regexp_full_match(p_investor_id, '{RESIDENT_ID_LAYOUT_RE}') "
    f"AND NOT regexp_matches(COALESCE(c_investor_name, ''), '{ORGANISATION_NAME_RE}'), false) END) END"
)


def _level4(source: Source) -> dict[str, str]:
    if source.name == "shareholders":
        person = _PERSON
        return {
            "_is_person": person,
            # Keyed hash of the ID (the key is a session variable, see load.set_secret).
            "_pid_hash": (
                f"CASE WHEN p_investor_id IS NOT NULL AND ({person}) "
                "THEN sha256(getvariable('ci_secret') || ':' || p_investor_id) END"
            ),
        }
    return {}


def plan_typed(
    source: Source,
    staged_table: str,
    present: set[str],
    fx: dict[str, float],
    target: str,
    table_columns: list[str],
    headers: dict[str, str] | None = None,
) -> TypedPlan:
    """Build the SQL creating ``target`` from ``staged_table``.

    ``table_columns`` are the warehouse table's own columns (after the row
    metadata), so the typed table lines up with it column for column.
    ``headers`` (field name -> header as delivered) give the units a header
    names in brackets, which replace the source's usual unit of that column.
    """
    units = {n: u for n, h in (headers or {}).items() if (u := header_money_unit(h))}
    pieces = {
        f.name: field_sql(source, f, f.name in present, fx, units.get(f.name))
        for f in source.fields
    }
    checks: list[Check] = []
    for p in pieces.values():
        checks.extend(p.checks)
    checks.extend(identity_checks(source))
    errors = [c for c in checks if c.severity == ERROR]
    warnings = [c for c in checks if c.severity == WARNING]
    if len(errors) > MAX_CHECKS or len(warnings) > MAX_CHECKS:  # pragma: no cover
        raise ValueError("too many checks for a BIGINT mask")

    cat_cols, cat_joins, cat_defined = _categorical_joins(source, staged_table, present)
    l1 = ", ".join(
        [f"{p.clean} AS c_{name}" for name, p in pieces.items() if f"c_{name}" not in cat_defined]
        + cat_cols
    )
    l2 = ", ".join(f"{expr} AS {col}" for p in pieces.values() for col, expr in p.level2.items())
    l3_parts = [f"{expr} AS {col}" for p in pieces.values() for col, expr in p.level3.items()]
    l3_parts += [f"{expr} AS {col}" for col, expr in _level3_extra(source, cat_defined).items()]
    l4 = "".join(f", {expr} AS {col}" for col, expr in _level4(source).items())
    joins = []
    for f in source.fields:
        if f.kind == "region":
            joins.append(
                f"LEFT JOIN (SELECT DISTINCT code FROM ref_regions) rgj_{f.name} "
                f"ON rgj_{f.name}.code = l2.c_{f.name}"
            )
            l3_parts.append(f"rgj_{f.name}.code AS rg_{f.name}")
        if f.kind == "industry":
            joins.append(
                f"LEFT JOIN (SELECT code, any_value(section) AS section FROM ref_industries "
                f"WHERE level = '小类' GROUP BY code) indj_{f.name} "
                # A 小类 code of section A read from a number cell lost its leading
                # zero ('111' for 0111); no 小类 code has three digits otherwise.
                f"ON indj_{f.name}.code = CASE WHEN length(l2.i_{f.name}.code) = 3 "
                f"THEN '0' || l2.i_{f.name}.code ELSE l2.i_{f.name}.code END "
                f"AND (l2.i_{f.name}.section IS NULL OR l2.i_{f.name}.section = indj_{f.name}.section)"
            )
            l3_parts.append(f"indj_{f.name}.code AS ind_{f.name}")
            l3_parts.append(f"indj_{f.name}.section AS indsec_{f.name}")
    l3 = ", ".join(l3_parts)

    outputs: dict[str, str] = {}
    for p in pieces.values():
        outputs.update(p.outputs)
    outputs.update(_derived(source))

    def mask(cs: list[Check]) -> str:
        if not cs:
            return "0::BIGINT"
        return " + ".join(
            f"(CASE WHEN {c.predicate} THEN {1 << i} ELSE 0 END)::BIGINT" for i, c in enumerate(cs)
        )

    select_cols = []
    for col in table_columns:
        expr = outputs.get(col)
        select_cols.append(f"{expr} AS {col}" if expr else f"NULL AS {col}")
    sql = f"""
    CREATE TEMP TABLE {target} AS
    SELECT _row, {", ".join(select_cols)},
           {mask(errors)} AS _err,
           {mask(warnings)} AS _warn
    FROM (SELECT l3.*{l4} FROM (
        SELECT l2.*{", " + l3 if l3 else ""}
        FROM (
            SELECT l1.*{", " + l2 if l2 else ""}
            FROM (SELECT s._row, {l1} FROM {staged_table} s {" ".join(cat_joins)}) l1
        ) l2
        {" ".join(joins)}
    ) l3) l4
    """
    return TypedPlan(sql=sql, errors=errors, warnings=warnings, outputs=list(table_columns))


def checks_values_sql(errors: list[Check], warnings: list[Check]) -> str:
    """A VALUES list (mask, bit, column, reason, severity) describing every check."""
    rows = [
        f"('_err', {i}, {q(c.column)}, {q(c.reason)}, {q(ERROR)})" for i, c in enumerate(errors)
    ]
    rows += [
        f"('_warn', {i}, {q(c.column)}, {q(c.reason)}, {q(WARNING)})"
        for i, c in enumerate(warnings)
    ]
    return "(VALUES " + ", ".join(rows) + ") AS c(mask, bit, column_name, reason, severity)"
