"""The enterprise profile: the linked record behind ``crossinvest enterprise USCC --json``.

One function (``analytics.profile.enterprise_profile``) answers the page, the
API and the command line, so they print the same record; this module adds the
actor's scope and the confidentiality of single enterprises' money.
"""

from __future__ import annotations

from crossinvest.access.gate import ReadContext, dataset
from crossinvest.analytics.profile import EnterpriseNotFound, enterprise_profile
from crossinvest.web.datasets.enterprises import in_scope
from crossinvest.web.envelope import not_found

# Profile parts from the registry and shareholder deliveries only.
PUBLIC_PROFILE_PARTS = frozenset({"enterprise", "investors", "penetrated_origins"})


@dataset("profile", guard="enterprise")
def profile(ctx: ReadContext, *, key: str) -> dict:
    """The linked record of one enterprise in the actor's scope."""
    ent = in_scope(ctx, key)
    try:
        out = enterprise_profile(ctx.con, ent["enterprise_key"])
    except EnterpriseNotFound as e:
        raise not_found(str(e), f"enterprise {key!r} not found") from e
    if not ctx.sees_enterprise_money:
        # Keep only parts known to hold no tax/statistics data (a whitelist, so a part
        # added later stays hidden until reviewed): tax by month, stats by year and the
        # tax/stats record links (names, IDs, row counts of tax records) are dropped.
        out = {k: v for k, v in out.items() if k in PUBLIC_PROFILE_PARTS}
    return dict(out)
