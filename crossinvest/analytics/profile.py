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
from crossinvest.warehouse.connection import fetch_dicts

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


def enterprise_profile(con: duckdb.DuckDBPyConnection, uscc: str) -> dict[str, Any]:
    """The profile of the enterprise with this USCC (or registration number).

    Raises ``EnterpriseNotFound`` when no current registry row matches.
    """
    key = (uscc or "").strip().upper()
    rows = fetch_dicts(
        con,
        f"SELECT {', '.join(REGISTRY_FIELDS)} FROM registry WHERE enterprise_key = ? OR uscc = ? OR reg_no = ? "
        "ORDER BY enterprise_key LIMIT 1",
        [key, key, key],
    )
    if not rows:
        raise EnterpriseNotFound(f"企业「{uscc}」不在登记信息中（统一社会信用代码或注册号）")
    ent = rows[0]
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
    return {
        "enterprise": {**ent, "region": region, "industry": industry, "location": side},
        "investors": _investors(con, ent["uscc"] or ek),
        "penetrated_origins": _penetrated(con, ek),
        "tax_by_month": fetch_dicts(
            con,
            """SELECT strftime(period, '%Y-%m') AS month, sum(tax_paid_wan) AS tax_wan,
                      list(DISTINCT tax_type ORDER BY tax_type) FILTER (tax_type IS NOT NULL) AS tax_types
               FROM tax_linked WHERE enterprise_key = ? GROUP BY 1 ORDER BY 1""",
            [ek],
        ),
        "stats_by_year": fetch_dicts(
            con,
            """SELECT year, sum(revenue_wan) AS revenue_wan, sum(profit_wan) AS profit_wan,
                      sum(total_assets_wan) AS total_assets_wan, sum(employees) AS employees
               FROM stats_linked WHERE enterprise_key = ? GROUP BY 1 ORDER BY 1""",
            [ek],
        ),
        "links": _links(con, ek),
    }


def _investors(con: duckdb.DuckDBPyConnection, ent_uscc: str) -> list[dict[str, Any]]:
    rows = fetch_dicts(
        con,
        """SELECT s.investor_name, s.investor_type, s.investor_id_type,
                  CASE WHEN s.is_person THEN NULL ELSE s.investor_id END AS investor_id, s.is_person,
                  s.subscribed_capital_wan, s.paid_capital_wan, s.share_ratio, s.contributed_on,
                  s.investor_region_code, o.origin_code, o.origin_rule, o.origin_class,
                  o.investor_enterprise_key, l.name AS origin_name, l.province_code, l.province_name,
                  l.prefecture_code, l.prefecture_name
           FROM shareholders s
           LEFT JOIN investor_origins o USING (enterprise_uscc, investor_key)
           LEFT JOIN an_region_lookup l ON l.code = o.origin_code
           WHERE s.enterprise_uscc = ?
           ORDER BY s.subscribed_capital_wan DESC NULLS LAST, s.investor_name""",
        [ent_uscc],
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


def _penetrated(con: duckdb.DuckDBPyConnection, ek: str) -> list[dict[str, Any]]:
    return fetch_dicts(
        con,
        """SELECT g.kind, g.origin_code, l.name AS origin_name, l.province_code, l.province_name,
                  g.via_person, g.share, g.investment_wan
           FROM an_groups g LEFT JOIN an_region_lookup l ON l.code = g.origin_code
           WHERE g.enterprise_key = ? AND g.penetrate
           ORDER BY g.kind, g.origin_code, g.via_person""",
        [ek],
    )


def _links(con: duckdb.DuckDBPyConnection, ek: str) -> list[dict[str, Any]]:
    """Every tax/stats record tied to the enterprise, how, and with what weight.

    Records tied by their own valid USCC have method 'uscc' and no weight; the
    others come from ``record_links`` ('auto'/'accepted' count, 'review' is shown
    but not used in figures).
    """
    return fetch_dicts(
        con,
        """WITH used AS (
              SELECT 'tax' AS source, taxpayer_key AS record_key, any_value(taxpayer_name) AS record_name,
                     any_value(taxpayer_id) AS record_id, any_value(link_method) AS method, count(*) AS rows
              FROM tax_linked WHERE enterprise_key = ? GROUP BY 2
              UNION ALL
              SELECT 'stats', unit_key, any_value(name), any_value(uscc), any_value(link_method), count(*)
              FROM stats_linked WHERE enterprise_key = ? GROUP BY 2
           )
           SELECT u.source, u.record_key, u.record_name, u.record_id, u.method, l.weight,
                  coalesce(l.status, CASE WHEN u.method = 'uscc' THEN 'direct' END) AS status,
                  l.reviewer, l.decided_at, u.rows, true AS used_in_figures
           FROM used u
           LEFT JOIN record_links l ON l.source = u.source AND l.record_key = u.record_key AND l.enterprise_key = ?
           UNION ALL
           SELECT l.source, l.record_key, NULL, NULL, l.method, l.weight, l.status, l.reviewer, l.decided_at,
                  NULL, false
           FROM record_links l WHERE l.enterprise_key = ? AND l.status NOT IN ('auto', 'accepted')
           ORDER BY 1, 2""",
        [ek, ek, ek, ek],
    )
