"""The statistical definitions (definitions.md) as Ibis expressions, written once.

Every function takes unbound Ibis tables and returns an expression; an engine
(``engine.py``) compiles it for DuckDB or Spark. The chain is:

    origins        one row per shareholder row: its derived origin and the rule (1–5)
    enterprises    one row per enterprise that has shareholders: side, region,
                   industry, active interval as months (est_ym, end_ym)
    direct_groups  per (kind, enterprise, origin, person?): qualifying investors'
                   subscribed capital and share
    pen_edges      ownership edges a penetration path may continue through
    (cube.py)      enterprise_yearly — tax by month, revenue, employees per (enterprise,
                   year); contributions — "cube rows": the above joined with them and summed per
                   (origin cell, enterprise cell, activity months, measure month)
    answer         a period's figures grouped by the requested dimensions

The materialised tables (materialize.py) are these expressions stored; a live
answer (Spark, or a period outside the materialised horizon) runs the same chain.

Conventions: months are integers YYYYMM; ``end_ym`` is the month from which an
enterprise is no longer active (999999: never; 0: always inactive).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

SHANGHAI = "310000"
NEVER = 999999
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
USCC_SHAPE = r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"

# Origin rules as stored in investor_origins.origin_rule.
RULES = {
    1: "股东所在行政区划",
    2: "股东为登记在册企业：其住所所在行政区划",
    3: "股东统一社会信用代码第3–8位",
    4: "未知",
    5: "自然人股东：身份证前6位",
}


def uscc_valid(s: ir.StringValue) -> ir.BooleanValue:
    """True when ``s`` is an 18-char USCC whose check character verifies (GB 32100-2015)."""
    alpha = ibis.literal(USCC_ALPHABET)
    total = sum(alpha.find(s.substr(i, 1)) * w for i, w in enumerate(USCC_WEIGHTS))
    check = (31 - total % 31) % 31
    # Compare values, not characters: a computed substring start would repeat the sum.
    return (s.re_search(USCC_SHAPE) & (alpha.find(s.substr(17, 1)) == check)).fill_null(False)


def _ym(d: ir.DateValue) -> ir.IntegerValue:
    return d.year().cast("int32") * 100 + d.month().cast("int32")


def region_side(province_code: ir.StringValue, domestic: ir.BooleanValue) -> ir.StringValue:
    """'in' for Shanghai, 'out' for another domestic division, NULL otherwise."""
    return ibis.cases(
        (province_code == SHANGHAI, "in"),
        (province_code.notnull() & domestic.fill_null(False), "out"),
        else_=ibis.null("string"),
    )


# Columns of a holding that origins carry through unchanged, so that an
# enterprise's investors are read from investor_origins alone (profile, chain).
HOLDING_COLUMNS = (
    "investor_name",
    "investor_id_type",
    "investor_id",
    "paid_capital_wan",
    "contributed_on",
)


def origins(sh: ir.Table, registry: ir.Table, regions: ir.Table) -> ir.Table:
    """Derive each shareholder row's origin by the four rules, in order (definitions.md).

    1 ``investor_region_code`` when valid; 2 the investor's own registry entry's
    ``region_code`` (matched by USCC); 3 digits 3–8 of the investor's USCC;
    4 unknown. Natural persons (``is_person``): the division of issue of their ID
    (rule 5), else unknown. A code is valid when it is in the region lookup.
    ``origin_class``: 'D' domestic, 'N' not domestic (71/81/82, foreign), 'U' unknown.
    """
    codes = regions.code
    if "investor_uscc" in sh.columns:
        # The loader verified it (check character included): nothing to recompute.
        cand, checked = sh.investor_uscc, True
    else:
        cand = ibis.cases(
            (sh.investor_id.re_search(USCC_SHAPE), sh.investor_id),
            (sh.investor_key.re_search(USCC_SHAPE), sh.investor_key),
            else_=ibis.null("string"),
        )
        checked = False
    s = sh.select(
        "enterprise_uscc",
        "investor_key",
        *HOLDING_COLUMNS,
        "investor_type",
        "is_person",
        "person_division",
        "subscribed_capital_wan",
        "share_ratio",
        "investor_region_code",
        investor_uscc=ibis.ifelse(sh.is_person, ibis.null("string"), cand),
    )
    reg = registry.filter(registry.uscc.notnull()).select(
        inv_uscc=registry.uscc,
        investor_enterprise_key=registry.enterprise_key,
        inv_region=registry.region_code,
    )
    # Rule 2 needs no check: the registry holds verified USCCs only.
    j = s.left_join(reg, s.investor_uscc == reg.inv_uscc)
    j = j.select(
        "enterprise_uscc",
        "investor_key",
        *HOLDING_COLUMNS,
        "investor_type",
        "is_person",
        "investor_uscc",
        "investor_enterprise_key",
        "subscribed_capital_wan",
        "share_ratio",
        "investor_region_code",
        "person_division",
        "inv_region",
        c3=j.investor_uscc.substr(2, 6),
    ).view()  # a boundary: c3 is joined on next
    # Validity = present in the lookup: left joins (Spark allows no IN-subquery in a projection).
    checks = {}
    for name, col in (
        ("v1", "investor_region_code"),
        ("v2", "inv_region"),
        ("v3", "c3"),
        ("vp", "person_division"),
    ):
        look = codes.name("code").as_table().select(**{f"{name}_code": "code"})
        j = j.left_join(look, j[col] == look[f"{name}_code"])
        checks[name] = j[f"{name}_code"].notnull()
    v1, v2, vp = checks["v1"], checks["v2"], checks["vp"]
    # The check character is costly to verify: only rows rule 3 decides pay for it
    # (CASE branches are evaluated for the rows that reach them).
    v3 = checks["v3"] if checked else checks["v3"] & uscc_valid(j.investor_uscc)
    j = j.select(
        "enterprise_uscc",
        "investor_key",
        *HOLDING_COLUMNS,
        "investor_type",
        "is_person",
        "investor_uscc",
        "investor_enterprise_key",
        "subscribed_capital_wan",
        "share_ratio",
        "investor_region_code",
        "person_division",
        "inv_region",
        "c3",
        origin_rule=ibis.cases(
            (j.is_person & vp, 5), (j.is_person, 4), (v1, 1), (v2, 2), (v3, 3), else_=4
        ).cast("int8"),
    ).view()  # a boundary: the rule is computed once, then read
    null_s = ibis.null("string")
    j = j.select(
        "enterprise_uscc",
        "investor_key",
        *HOLDING_COLUMNS,
        "investor_type",
        "is_person",
        "investor_uscc",
        "investor_enterprise_key",
        "subscribed_capital_wan",
        "share_ratio",
        "investor_region_code",
        "inv_region",
        "origin_rule",
        origin_code=ibis.cases(
            (j.origin_rule == 1, j.investor_region_code),
            (j.origin_rule == 2, j.inv_region),
            (j.origin_rule == 3, j.c3),
            (j.origin_rule == 5, j.person_division),
            else_=null_s,
        ),
    ).view()
    r = regions.select(rc=regions.code, rp=regions.province_code, rd=regions.domestic)
    ir_ = regions.select(ic=regions.code, ip=regions.province_code, idom=regions.domestic)
    k = j.left_join(r, [("origin_code", "rc")])
    k = k.left_join(ir_, [("inv_region", "ic")])
    foreign = k.investor_type.contains("外国").fill_null(False) | k.investor_type.contains(
        "港澳台"
    ).fill_null(False)
    return k.select(
        "enterprise_uscc",
        "investor_key",
        *HOLDING_COLUMNS,
        "is_person",
        "investor_uscc",
        "investor_enterprise_key",
        "origin_code",
        "origin_rule",
        origin_province=k.rp,
        origin_class=ibis.cases(
            (foreign, "N"), (k.origin_code.isnull(), "U"), (k.rd.fill_null(False), "D"), else_="N"
        ),
        investor_side=region_side(k.ip, k.idom),
        subscribed_capital_wan=k.subscribed_capital_wan,
        share_ratio=k.share_ratio,
        investor_type=k.investor_type,
        investor_region_code=k.investor_region_code,
    )


def enterprises(registry: ir.Table, regions: ir.Table, owned: ir.Table | None = None) -> ir.Table:
    """One row per registry enterprise (with shareholders, when ``owned`` is given).

    ``side`` 'in' (Shanghai) or 'out' (domestic, elsewhere); enterprises with an
    unknown or foreign domicile are left out. Active at month R means
    ``est_ym <= R < end_ym`` (definitions.md, "Periods").
    """
    reg = registry
    if owned is not None:
        reg = reg.filter(reg.enterprise_key.isin(owned.enterprise_uscc))
    r = regions.select(rc=regions.code, rp=regions.province_code, rd=regions.domestic)
    j = reg.left_join(r, reg.region_code == r.rc)
    ind = j.industry_code
    dead = j.status.contains("注销").fill_null(False) | j.status.contains("吊销").fill_null(False)
    dereg = _ym(j.deregistered_on)
    out = j.select(
        enterprise_key=j.enterprise_key,
        side=region_side(j.rp, j.rd),
        region_code=j.region_code,
        division=ibis.cases(
            (ind.re_search(r"^[0-9]{4}$"), ind.substr(0, 2)),
            (ind.re_search(r"^[A-Za-z][0-9]{4}$"), ind.substr(1, 2)),
            else_=ibis.null("string"),
        ),
        section=j.industry_section.upper(),
        est_ym=_ym(j.established_on),
        end_ym=ibis.cases(
            (dead, dereg.fill_null(0)),
            (j.status.isnull() & j.deregistered_on.notnull(), dereg),
            else_=NEVER,
        ).cast("int32"),
        registered_capital_wan=j.registered_capital_wan,
    )
    return out.filter(out.side.notnull())


def _share(o: ir.Table) -> ir.FloatingValue:
    """The investor's share: ``share_ratio``, else subscribed / registered capital."""
    fallback = ibis.ifelse(
        o.registered_capital_wan > 0,
        o.subscribed_capital_wan / o.registered_capital_wan,
        ibis.null("float64"),
    )
    return o.share_ratio.fill_null(fallback)


def direct_groups(origins_t: ir.Table, ents: ir.Table) -> ir.Table:
    """Qualifying investors summed per (kind, enterprise, origin, person?).

    Inbound: a Shanghai enterprise's investors of domestic origin outside Shanghai.
    Outbound: a domestic non-Shanghai enterprise's investors of Shanghai origin.
    The share of a row is its ``share_ratio``, else subscribed / registered capital.
    """
    o = origins_t.filter(origins_t.origin_class == "D")
    # Sum the rows first, join the (fewer) sums to the enterprises after: the share
    # fallback is linear, so Σ coalesce(ratio, sub / cap) = Σ ratio + (Σ sub where no ratio) / cap.
    pre = o.group_by(
        enterprise_uscc=o.enterprise_uscc,
        origin_code=o.origin_code,
        origin_province=o.origin_province,
        via_person=o.is_person,
    ).aggregate(
        investment_wan=o.subscribed_capital_wan.sum(),
        ratio=o.share_ratio.sum(),
        no_ratio_sub=ibis.ifelse(o.share_ratio.isnull(), o.subscribed_capital_wan, None).sum(),
        n_no_ratio=ibis.ifelse(o.share_ratio.isnull(), 1, 0).sum(),
    )
    e = ents.select("enterprise_key", "side", "registered_capital_wan")
    j = pre.join(e, pre.enterprise_uscc == e.enterprise_key)
    counting = ((j.side == "in") & (j.origin_province != SHANGHAI)) | (
        (j.side == "out") & (j.origin_province == SHANGHAI)
    )
    j = j.filter(counting)
    fallback = ibis.ifelse(
        j.registered_capital_wan > 0,
        j.no_ratio_sub / j.registered_capital_wan,
        ibis.null("float64"),
    )
    share = ibis.cases(
        (j.n_no_ratio == 0, j.ratio),
        (j.ratio.isnull(), fallback),
        else_=j.ratio + fallback.fill_null(0),
    )
    return j.select(
        kind=ibis.ifelse(j.side == "in", "inbound", "outbound"),
        enterprise_key=j.enterprise_key,
        origin_code=j.origin_code,
        via_person=j.via_person,
        penetrate=ibis.literal(False),
        investment_wan=j.investment_wan,
        share=share,
    )


def pen_edges(origins_t: ir.Table, ents: ir.Table) -> ir.Table:
    """Edges a penetration path continues through (child enterprise -> parent enterprise).

    Inbound side: the parent is a Shanghai-registered enterprise in the registry
    whose origin is Shanghai. Outbound side (the mirror image): a registry
    enterprise registered, and of origin, elsewhere in China.
    """
    e = ents.select("enterprise_key", "side", "registered_capital_wan")
    o = origins_t.filter(
        (origins_t.origin_class == "D")
        & ~origins_t.is_person
        & origins_t.investor_enterprise_key.notnull()
    )
    j = o.join(e, o.enterprise_uscc == e.enterprise_key)
    cont = ((j.side == "in") & (j.investor_side == "in") & (j.origin_province == SHANGHAI)) | (
        (j.side == "out") & (j.investor_side == "out") & (j.origin_province != SHANGHAI)
    )
    j = j.filter(cont & (j.investor_enterprise_key != j.enterprise_key)).mutate(share=_share(j))
    return j.group_by(
        side=j.side, child_key=j.enterprise_key, parent_key=j.investor_enterprise_key
    ).aggregate(share=j.share.sum())
