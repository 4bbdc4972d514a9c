"""The enterprise profile: one enterprise's linked record, with the reasons behind its figures.

``enterprise_profile(con, "9131…")`` returns registry fields, the investors with
their derived origins and the rule that decided each (so a profile can say why an
investor counts as 浙江), penetrated origins, tax by month, statistics by year,
and the links that tied the tax and stats records to the enterprise, with match
weights. Resident ID numbers are never in it (the warehouse does not hold them).
"""

from __future__ import annotations

from typing import Any

import duckdb

from crossinvest.analytics.model import RULES, SHANGHAI
from crossinvest.analytics.tables import origin_rows, origin_rows_params
from crossinvest.warehouse.connection import fetch_dicts
from crossinvest.warehouse.lookups import fetch_by_keys, linked_records

CLASS_NAMES = {"D": "domestic", "N": "non_domestic", "U": "unknown"}
REGISTRY_FIELDS = (
    "enterprise_key",
    "uscc",
    "reg_no",
    "name",
    "entity_type",
    "legal_representative",
    "established_on",
    "registered_capital_wan",
    "currency",
    "registration_authority",
    "address",
    "region_code",
    "region_source",
    "industry_code",
    "industry_section",
    "status",
    "deregistered_on",
)


class EnterpriseNotFound(LookupError):
    """No current registry entry for that USCC (message in Chinese)."""


def _region(con: duckdb.DuckDBPyConnection, code: str | None) -> dict[str, Any] | None:
    if not code:
        return None
    rows = fetch_dicts(
        con,
        "SELECT code, name, province_code, province_name, prefecture_code, prefecture_name, district_code, "
        "district_name, domestic FROM an_region_lookup WHERE code = ?",
        [code],
    )
    return rows[0] if rows else {"code": code, "name": None}


def _registry_row(con: duckdb.DuckDBPyConnection, key: str) -> dict[str, Any] | None:
    """The current registry row for a USCC, a registration number or an enterprise key.

    A registry key is the valid USCC or ``R:`` + registration number, so the
    indexed key answers nearly every lookup; only an enterprise with a valid USCC
    looked up by its old registration number needs the scan.
    """
    cols = ", ".join(REGISTRY_FIELDS)
    rows = fetch_by_keys(
        con,
        "registry_rows",
        "enterprise_key",
        {key, f"R:{key}"},
        columns=f"{cols}, is_current",
        where="k.is_current",
        order_by="k.enterprise_key",
    )
    if not rows:
        rows = fetch_dicts(
            con,
            f"SELECT {cols} FROM registry WHERE uscc = ? OR reg_no = ? ORDER BY enterprise_key LIMIT 1",
            [key, key],
        )
    if not rows:
        return None
    row = rows[0]
    row.pop("is_current", None)
    return row


def enterprise_profile(con: duckdb.DuckDBPyConnection, uscc: str) -> dict[str, Any]:
    """The profile of the enterprise with this USCC (or registration number).

    Raises ``EnterpriseNotFound`` when no current registry row matches. Every
    part is read by key through the warehouse's indexes (``warehouse.lookups``):
    a few milliseconds at 10M enterprises, where a scan of the linked views took
    seconds.
    """
    key = (uscc or "").strip().upper()
    ent = _registry_row(con, key)
    if ent is None:
        raise EnterpriseNotFound(f"企业「{uscc}」不在登记信息中（统一社会信用代码或注册号）")
    ek = ent["enterprise_key"]
    region = _region(con, ent["region_code"])
    industry = None
    if ent["industry_code"]:
        div = ent["industry_code"][-4:][:2]
        r = fetch_dicts(
            con,
            "SELECT division_code, division_name, section, section_name FROM an_industry_lookup "
            "WHERE division_code = ? LIMIT 1",
            [div],
        )
        industry = {"code": ent["industry_code"], **(r[0] if r else {})}
    side = None
    if region and region.get("province_code") == SHANGHAI:
        side = "shanghai"
    elif region and region.get("domestic"):
        side = "elsewhere_in_china"
    tax = linked_records(con, "tax", ek, ent["uscc"])
    stats = linked_records(con, "stats", ek, ent["uscc"])
    return {
        "enterprise": {**ent, "region": region, "industry": industry, "location": side},
        "investors": _investors(con, ent["uscc"] or ek),
        "penetrated_origins": _penetrated(con, ek),
        "tax_by_month": _tax_by_month(tax),
        "stats_by_year": _stats_by_year(stats),
        "links": _links(con, ek, tax, stats),
    }


def _sum(values: list[Any]) -> Any:
    """SQL's sum: NULLs ignored, NULL when there is nothing to add."""
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _tax_by_month(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by.setdefault(r["period"].strftime("%Y-%m"), []).append(r)
    return [
        {
            "month": m,
            "tax_wan": _sum([r["tax_paid_wan"] for r in rs]),
            "tax_types": sorted({r["tax_type"] for r in rs if r["tax_type"] is not None}) or None,
        }
        for m, rs in sorted(by.items())
    ]


def _stats_by_year(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        by.setdefault(r["year"], []).append(r)
    fields = ("revenue_wan", "profit_wan", "total_assets_wan", "employees")
    return [
        {"year": y, **{f: _sum([r[f] for r in rs]) for f in fields}} for y, rs in sorted(by.items())
    ]


def _investors(con: duckdb.DuckDBPyConnection, ent_uscc: str) -> list[dict[str, Any]]:
    # investor_origins holds every current holding with its own columns (the
    # shareholders' index does not fit the memory budget at 27M rows; this
    # table is stored by enterprise hash, see tables.origin_rows).
    rows = fetch_dicts(
        con,
        f"""WITH o AS MATERIALIZED ({origin_rows(1)})
           SELECT o.investor_name, o.investor_type, o.investor_id_type,
                  CASE WHEN o.is_person THEN NULL ELSE o.investor_id END AS investor_id, o.is_person,
                  o.subscribed_capital_wan, o.paid_capital_wan, o.share_ratio, o.contributed_on,
                  o.investor_region_code, o.origin_code, o.origin_rule, o.origin_class,
                  o.investor_enterprise_key, l.name AS origin_name, l.province_code, l.province_name,
                  l.prefecture_code, l.prefecture_name
           FROM o
           LEFT JOIN an_region_lookup l ON l.code = o.origin_code
           ORDER BY o.subscribed_capital_wan DESC NULLS LAST, o.investor_name""",
        origin_rows_params([ent_uscc]),
    )
    out = []
    for r in rows:
        rule = r.pop("origin_rule")
        cls = r.pop("origin_class")
        origin = {
            "code": r.pop("origin_code"),
            "name": r.pop("origin_name"),
            "province_code": r.pop("province_code"),
            "province_name": r.pop("province_name"),
            "prefecture_code": r.pop("prefecture_code"),
            "prefecture_name": r.pop("prefecture_name"),
            "rule": rule,
            "rule_text": RULES.get(rule) if rule is not None else None,
            "class": CLASS_NAMES.get(cls) if cls else None,
        }
        if origin["code"] is None:
            origin["name"] = "未知" if cls == "U" else origin["name"]
        in_registry = r.pop("investor_enterprise_key")
        out.append({**r, "investor_in_registry": in_registry is not None, "origin": origin})
    return out


# From an_groups' copy stored by key (an_groups_by_key), with the key on the scan:
# DuckDB's min/max skip all but the row group or two holding the enterprise. In
# an_groups the penetrated rows are sorted by key in a few parts, one row group
# read per part (16 ms at 10M against 2.6 ms); its index is over the memory budget.
PENETRATED_SQL = """
    SELECT g.kind, g.origin_code, l.name AS origin_name, l.province_code, l.province_name,
           g.via_person, g.share, g.investment_wan
    FROM an_groups_by_key g LEFT JOIN an_region_lookup l ON l.code = g.origin_code
    WHERE g.penetrate AND g.enterprise_key = ?
    ORDER BY g.kind, g.origin_code, g.via_person"""


def _penetrated(con: duckdb.DuckDBPyConnection, ek: str) -> list[dict[str, Any]]:
    return fetch_dicts(con, PENETRATED_SQL, [ek])


# (id column, name column) of each linked source's records.
_RECORD_FIELDS = {
    "tax": ("taxpayer_key", "taxpayer_name", "taxpayer_id"),
    "stats": ("unit_key", "name", "uscc"),
}


def _links(
    con: duckdb.DuckDBPyConnection,
    ek: str,
    tax: list[dict[str, Any]],
    stats: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Every tax/stats record tied to the enterprise, how, and with what weight.

    Records tied by their own valid USCC have method 'uscc' and no weight; the
    others come from ``record_links`` ('auto'/'accepted' count, 'review' is shown
    but not used in figures). ``tax``/``stats`` are the enterprise's linked rows.
    """
    links = fetch_by_keys(con, "record_links", "enterprise_key", [ek])
    out: list[dict[str, Any]] = []
    for source, rows in (("tax", tax), ("stats", stats)):
        key_col, name_col, id_col = _RECORD_FIELDS[source]
        used: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            used.setdefault(r[key_col], []).append(r)
        for record_key, rs in used.items():
            first = rs[0]
            base = {
                "source": source,
                "record_key": record_key,
                "record_name": first[name_col],
                "record_id": first[id_col],
                "method": first["link_method"],
            }
            matches: list[dict[str, Any] | None] = [
                lk for lk in links if lk["source"] == source and lk["record_key"] == record_key
            ] or [None]
            for lk in matches:
                out.append(
                    {
                        **base,
                        "weight": lk["weight"] if lk else None,
                        "status": lk["status"]
                        if lk
                        else ("direct" if base["method"] == "uscc" else None),
                        "reviewer": lk["reviewer"] if lk else None,
                        "decided_at": lk["decided_at"] if lk else None,
                        "rows": len(rs),
                        "used_in_figures": True,
                    }
                )
    for lk in links:
        if lk["status"] not in ("auto", "accepted"):
            out.append(
                {
                    "source": lk["source"],
                    "record_key": lk["record_key"],
                    "record_name": None,
                    "record_id": None,
                    "method": lk["method"],
                    "weight": lk["weight"],
                    "status": lk["status"],
                    "reviewer": lk["reviewer"],
                    "decided_at": lk["decided_at"],
                    "rows": None,
                    "used_in_figures": False,
                }
            )
    out.sort(key=lambda r: (r["source"], r["record_key"]))
    return out
