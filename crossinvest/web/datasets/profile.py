"""The enterprise profile: the linked record behind ``crossinvest enterprise USCC --json``.

When the statistics layer offers ``enterprise_profile(con, uscc)`` the profile
is that, so the page and the command line print the same record. Until then it
is read here from the same tables: the registry row, every investor with its
derived origin and the rule that decided it (``investor_origins``), tax by
month and statistics by year through the linked views, and the record links.
Persons appear by name only: their keys are hashes of ID numbers.
"""

from __future__ import annotations

from typing import Any

from crossinvest.access.gate import ReadContext, dataset
from crossinvest.warehouse.connection import fetch_dicts
from crossinvest.web.datasets.enterprises import in_scope
from crossinvest.web.datasets.stats import analytics
from crossinvest.web.envelope import not_found

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


# Profile parts from the registry and shareholder deliveries only.
PUBLIC_PROFILE_PARTS = frozenset({"registry", "enterprise", "investors", "penetrated_origins"})


def _rules() -> dict[int, str]:
    from crossinvest.analytics.model import RULES

    return RULES


def warehouse_profile(con: Any, key: str) -> dict[str, Any]:
    """The linked record of enterprise ``key`` read from the warehouse's tables."""
    reg = fetch_dicts(
        con, f"SELECT {', '.join(REGISTRY_FIELDS)} FROM registry WHERE enterprise_key = ?", [key]
    )
    if not reg:
        raise not_found(f"未找到企业「{key}」", f"enterprise {key!r} not found")
    registry = reg[0]
    for k in ("established_on", "deregistered_on"):
        registry[k] = None if registry[k] is None else str(registry[k])
    uscc = registry["uscc"] or key
    investors = fetch_dicts(
        con,
        """
        SELECT s.investor_name, s.investor_type, s.is_person,
               CASE WHEN s.is_person THEN NULL ELSE s.investor_key END AS investor_key,
               o.origin_code, r.name AS origin_name, o.origin_rule, s.subscribed_capital_wan, s.share_ratio,
               s.investor_region_code
        FROM shareholders s
        LEFT JOIN investor_origins o ON o.enterprise_uscc = s.enterprise_uscc AND o.investor_key = s.investor_key
        LEFT JOIN an_region_lookup r ON r.code = o.origin_code
        WHERE s.enterprise_uscc = ?
        ORDER BY s.subscribed_capital_wan DESC NULLS LAST, s.investor_name
        """,
        [uscc],
    )
    rules = _rules()
    for inv in investors:
        inv["origin_rule_name"] = (
            rules.get(inv["origin_rule"]) if inv["origin_rule"] is not None else None
        )
    tax = fetch_dicts(
        con,
        """
        SELECT strftime(period, '%Y-%m') AS period, sum(tax_paid_wan) AS tax_wan, any_value(link_method) AS link
        FROM tax_linked WHERE enterprise_key = ? GROUP BY period ORDER BY period
        """,
        [key],
    )
    stats = fetch_dicts(
        con,
        """
        SELECT year, sum(revenue_wan) AS revenue_wan, sum(profit_wan) AS profit_wan, sum(employees) AS employees,
               any_value(link_method) AS link
        FROM stats_linked WHERE enterprise_key = ? GROUP BY year ORDER BY year
        """,
        [key],
    )
    links = fetch_dicts(
        con,
        """
        SELECT source, record_key, method, weight, status, reviewer,
               strftime(decided_at, '%Y-%m-%dT%H:%M:%S') AS decided_at
        FROM record_links WHERE enterprise_key = ? ORDER BY source, record_key
        """,
        [key],
    )
    return {
        "registry": registry,
        "investors": investors,
        "tax_by_month": tax,
        "stats_by_year": stats,
        "links": links,
    }


@dataset("profile", guard="enterprise")
def profile(ctx: ReadContext, *, key: str) -> dict:
    """The linked record of one enterprise in the actor's scope."""
    ent = in_scope(ctx, key)
    fn = getattr(analytics(), "enterprise_profile", None)
    if fn is None:
        out = warehouse_profile(ctx.con, ent["enterprise_key"])
    else:
        try:
            out = fn(ctx.con, ent["uscc"] or ent["enterprise_key"])
        except LookupError as e:
            raise not_found(str(e), f"enterprise {key!r} not found") from e
    if not ctx.sees_enterprise_money:
        # Keep only parts known to hold no tax/statistics data (a whitelist, so a part
        # added later stays hidden until reviewed): tax by month, stats by year and the
        # tax/stats record links (names, IDs, row counts of tax records) are dropped.
        out = {k: v for k, v in out.items() if k in PUBLIC_PROFILE_PARTS}
    return dict(out)
