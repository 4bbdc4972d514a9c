"""The cube: measures per enterprise and year, and the figures pre-summed per cell.

``enterprise_yearly`` pivots tax into one column per month beside revenue and
employees (one row per enterprise and year). ``contributions`` joins the
qualifying groups (``model.direct_groups`` and penetration) with the enterprises
and those yearly facts and sums them per origin cell, enterprise cell and
activity months: the rows of ``an_cube``. ``period_facts``/``enterprise_rows``
are the same figures unsummed for one period (live answers). Written in Ibis like
``model``; see docs/definitions-impl.md.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from crossinvest.analytics.model import NEVER

MONTH_COLS = tuple(f"t{m:02d}" for m in range(1, 13))


def enterprise_yearly(
    tax_linked: ir.Table,
    stats_linked: ir.Table,
    keys: ir.Table | None = None,
    years: tuple[int, int] | None = None,
) -> ir.Table:
    """Per (enterprise, year): tax of each month in 万元 (all tax types, t01..t12),
    revenue and year-end employees from the statistics bureau.

    One row per enterprise and year instead of one per month: everything that
    joins it (the cube) does twelve times less work.
    """
    nf, ni = ibis.null("float64"), ibis.null("int64")
    t = tax_linked.filter(tax_linked.enterprise_key.notnull())
    s = stats_linked.filter(stats_linked.enterprise_key.notnull())
    if keys is not None:
        t = t.filter(t.enterprise_key.isin(keys.enterprise_key))
        s = s.filter(s.enterprise_key.isin(keys.enterprise_key))
    if years is not None:
        t = t.filter(t.period.between(ibis.date(years[0], 1, 1), ibis.date(years[1], 12, 31)))
        s = s.filter(s.year.between(years[0], years[1]))
    mo = t.period.month()
    tp = t.group_by(enterprise_key=t.enterprise_key, year=t.period.year().cast("int32")).aggregate(
        **{
            m: ibis.ifelse(mo == i + 1, t.tax_paid_wan, None).sum()
            for i, m in enumerate(MONTH_COLS)
        }
    )
    tp = tp.mutate(rev=nf, emp=ni)
    sp = s.select(
        "enterprise_key",
        year=s.year.cast("int32"),
        rev=s.revenue_wan,
        emp=s.employees.cast("int64"),
    )
    sp = sp.mutate(**{m: nf for m in MONTH_COLS})
    cols = ["enterprise_key", "year", *MONTH_COLS, "rev", "emp"]
    u = ibis.union(tp.select(cols), sp.select(cols))
    return u.group_by("enterprise_key", "year").aggregate(
        **{m: u[m].sum() for m in MONTH_COLS},
        revenue_wan=u.rev.sum(),
        employees=u.emp.sum().cast("int64"),
    )


def period_measures(
    tax_linked: ir.Table, stats_linked: ir.Table, start_ym: int, end_ym: int
) -> ir.Table:
    """Per enterprise, one period only: tax in its months, revenue and employees of its
    year (what ``period_facts`` reads from ``enterprise_yearly`` otherwise)."""
    y = end_ym // 100
    t = tax_linked.filter(
        tax_linked.enterprise_key.notnull()
        & tax_linked.period.between(ibis.date(y, start_ym % 100, 1), ibis.date(y, end_ym % 100, 1))
    )
    tp = t.group_by("enterprise_key").aggregate(tax=t.tax_paid_wan.sum())
    s = stats_linked.filter(stats_linked.enterprise_key.notnull() & (stats_linked.year == y))
    sp = s.group_by("enterprise_key").aggregate(
        rev=s.revenue_wan.sum(), emp=s.employees.sum().cast("int64")
    )
    # Two left joins later instead of a union and a second aggregation here.
    return tp.outer_join(sp, "enterprise_key").select(
        enterprise_key=ibis.coalesce(tp.enterprise_key, sp.enterprise_key),
        tax=tp.tax,
        rev=sp.rev,
        emp=sp.emp,
    )


CUBE_KEYS = (
    "mask",
    "o_prov",
    "o_pref",
    "o_dist",
    "e_region",
    "e_div",
    "e_sec",
    "est_b",
    "end_b",
    "src",
    "tm",
)
CUBE_MEASURES = (
    "n",
    "inv0",
    "inv1",
    "inv2",
    "inv3",
    *(f"t{m:02d}" for m in range(1, 13)),
    "rev",
    "emp",
)


def variant_bit(penetrate: bool, include_persons: bool) -> int:
    """The bit of a variant in a cube row's ``mask``: 1, 2 direct; 4, 8 penetrated; 2, 8 with persons.

    >>> variant_bit(False, False), variant_bit(True, True)
    (1, 8)
    """
    return 1 << (2 * int(penetrate) + int(include_persons))


def _cells(g: ir.Table, regions: ir.Table, level: int) -> ir.Table:
    """Per (enterprise, origin cell of ``level``): the variant mask and investments."""
    null_s = ibis.null("string")
    if level == 0:
        src_t = g
        gk = {
            "enterprise_key": g.enterprise_key,
            "o_prov": null_s,
            "o_pref": null_s,
            "o_dist": null_s,
        }
    else:
        r = regions.select(
            rc=regions.code,
            rp=regions.province_code,
            rf=regions.prefecture_code,
            rdi=regions.district_code,
        )
        src_t = g.join(r, g.origin_code == r.rc)
        gk = {
            "enterprise_key": src_t.enterprise_key,
            "o_prov": src_t.rp,
            "o_pref": src_t.rf if level >= 2 else null_s,
            "o_dist": src_t.rdi if level >= 3 else null_s,
        }
    pen, person = src_t.penetrate, src_t.via_person
    bits = [
        ~pen & ~person,  # variant 0: direct, persons excluded
        ~pen,  # variant 1: direct, persons included
        pen & ~person,  # variant 2: penetrated, persons excluded
        pen,  # variant 3: penetrated, persons included
    ]
    aggs = {}
    for k, b in enumerate(bits):
        aggs[f"has{k}"] = ibis.ifelse(b, 1, 0).max()
        aggs[f"inv{k}"] = ibis.ifelse(b, src_t.investment_wan, None).sum()
    cell = src_t.group_by(**gk).aggregate(**aggs)
    cell = cell.mutate(
        mask=(cell.has0 + cell.has1 * 2 + cell.has2 * 4 + cell.has3 * 8).cast("int8"),
        level=ibis.literal(level, "int8"),
    )
    return cell.select(
        "level",
        "enterprise_key",
        "o_prov",
        "o_pref",
        "o_dist",
        "mask",
        "inv0",
        "inv1",
        "inv2",
        "inv3",
    )


def contributions(
    groups: ir.Table,
    ents: ir.Table,
    yearly: ir.Table,
    regions: ir.Table,
    *,
    kind: str,
    levels: tuple[int, ...] | list[int],
    h0: int,
    h1: int,
    keep: tuple[str, ...] | None = None,
) -> ir.Table:
    """Cube rows of one kind at the origin ``levels``, for months h0..h1 (YYYYMM).

    An enterprise contributes, per origin cell of a level (0 none, 1 province,
    2 prefecture, 3 Shanghai district), one base row (src 0: n=1 and the cell's
    investment) and one row per year (src 1, tm = year) with its tax in twelve
    month columns t01..t12 and its revenue and employees. ``mask`` says in which of the four variants (``variant_bit``) the
    enterprise belongs to the cell, ``inv0..inv3`` its investment in each. Months
    of establishment and end are clamped to the horizon (0 = before h0, 999999 =
    after h1), which is exact for every period inside it. The levels share one
    join with the enterprises, tax and statistics. ``keep``: the enterprise
    columns (e_region, e_div, e_sec) an answer will read; the others are left
    NULL so fewer cells form (a live answer; the materialised cube keeps all).
    """
    g = groups.filter(groups.kind == kind)
    null_s = ibis.null("string")
    parts = [_cells(g, regions, lv) for lv in sorted(set(levels))]
    cell = ibis.union(*parts) if len(parts) > 1 else parts[0]
    side = "in" if kind == "inbound" else "out"
    e = ents.filter(ents.side == side)
    start = ibis.greatest(e.est_ym, ibis.literal(h0))
    kept = set(keep) if keep is not None else {"e_region", "e_div", "e_sec"}
    e = e.filter((start <= h1) & (start < e.end_ym)).select(
        "enterprise_key",
        e_region=e.region_code if "e_region" in kept else null_s,
        e_div=e.division if "e_div" in kept else null_s,
        e_sec=e.section if "e_sec" in kept else null_s,
        est_b=ibis.ifelse(e.est_ym < h0, 0, e.est_ym).cast("int32"),
        end_b=ibis.ifelse(e.end_ym > h1, NEVER, e.end_ym).cast("int32"),
    )
    ce = cell.join(e, "enterprise_key")
    keys = [
        "level",
        "mask",
        "o_prov",
        "o_pref",
        "o_dist",
        "e_region",
        "e_div",
        "e_sec",
        "est_b",
        "end_b",
    ]
    nf, ni = ibis.null("float64"), ibis.null("int64")
    months = list(MONTH_COLS)
    base = ce.group_by(keys).aggregate(
        n=ce.count(), **{f"inv{k}": ce[f"inv{k}"].sum() for k in range(4)}
    )
    base = base.mutate(
        src=ibis.literal(0, "int8"),
        tm=ibis.literal(0, "int32"),
        rev=nf,
        emp=ni,
        **{m: nf for m in months},
    )
    yl = yearly.filter(yearly.year.between(h0 // 100, h1 // 100))
    yl = yl.select("enterprise_key", "year", *months, rev=yl.revenue_wan, emp=yl.employees)
    # ce on the right: Ibis then shares it (a CTE) instead of extending the join.
    cy = yl.join(ce, "enterprise_key")
    yearly = cy.group_by([*keys, "year"]).aggregate(
        rev=cy.rev.sum(), emp=cy.emp.sum().cast("int64"), **{m: cy[m].sum() for m in months}
    )
    yearly = yearly.mutate(
        src=ibis.literal(1, "int8"),
        tm=yearly.year.cast("int32"),
        n=ibis.literal(0, "int64"),
        inv0=nf,
        inv1=nf,
        inv2=nf,
        inv3=nf,
    )
    cols = ["level", *CUBE_KEYS, *CUBE_MEASURES]
    return ibis.union(base.select(cols), yearly.select(cols))


def period_facts(
    ents: ir.Table,
    yearly: ir.Table | None,
    *,
    kind: str,
    start_ym: int,
    end_ym: int,
    keep: tuple[str, ...] = ("e_region", "e_div", "e_sec"),
    measures: ir.Table | None = None,
) -> ir.Table:
    """The enterprises of ``kind``'s side active at the period end, with their
    cube columns, ``new`` (established within the period), tax in the period,
    revenue and employees of its year (from ``yearly``, or ``measures`` =
    ``period_measures``). Active: ``est_ym <= end_ym < end``.
    """
    side = "in" if kind == "inbound" else "out"
    e = ents.filter((ents.side == side) & (ents.est_ym <= end_ym) & (ents.end_ym > end_ym))
    null_s = ibis.null("string")
    e = e.select(
        "enterprise_key",
        e_region=e.region_code if "e_region" in keep else null_s,
        e_div=e.division if "e_div" in keep else null_s,
        e_sec=e.section if "e_sec" in keep else null_s,
        new=ibis.ifelse(e.est_ym >= start_ym, 1, 0).cast("int64"),
    )
    if measures is None:
        assert yearly is not None, "period_facts needs yearly or measures"
        y = yearly.filter(yearly.year == end_ym // 100)
        months = [f"t{m:02d}" for m in range(start_ym % 100, end_ym % 100 + 1)]
        y = y.select(
            "enterprise_key",
            tax=sum(y[m].fill_null(0) for m in months),
            rev=y.revenue_wan,
            emp=y.employees,
        )
    else:
        y = measures
    return e.left_join(y, "enterprise_key").select(
        "enterprise_key", "e_region", "e_div", "e_sec", "new", "tax", "rev", "emp"
    )


def enterprise_rows(
    groups: ir.Table,
    facts: ir.Table,
    regions: ir.Table,
    *,
    kind: str,
    levels: tuple[int, ...] | list[int],
    penetrate: bool,
    include_persons: bool,
) -> ir.Table:
    """One period's qualifying enterprises, one row per (level, enterprise, origin cell).

    The direct form of what the cube pre-sums (for a live answer): n = 1, new,
    the cell's investment of the variant's investors, and the enterprise's
    period facts (``period_facts``). The levels share one join with the facts.
    """
    g = groups.filter((groups.kind == kind) & (groups.penetrate == ibis.literal(penetrate)))
    if not include_persons:
        g = g.filter(~g.via_person)
    g = g.mutate(penetrate=ibis.literal(False), via_person=ibis.literal(False))
    parts = [_cells(g, regions, lv) for lv in sorted(set(levels))]
    cell = ibis.union(*parts) if len(parts) > 1 else parts[0]
    cell = cell.select("level", "enterprise_key", "o_prov", "o_pref", "o_dist", inv=cell.inv0)
    ce = cell.join(facts, "enterprise_key")
    return ce.select(
        "level",
        "o_prov",
        "o_pref",
        "o_dist",
        "e_region",
        "e_div",
        "e_sec",
        n=ibis.literal(1, "int64"),
        new=ce.new,
        inv=ce.inv,
        tax=ce.tax,
        rev=ce.rev,
        emp=ce.emp,
    )
