"""A period's figures from cube rows, grouped by dimensions (Ibis, any engine).

The cube rows come either from the materialised ``an_cube`` (one variant and
origin level selected) or from ``cube.contributions`` computed live; the same
expression answers both, so the served figures and a cold recompute cannot
drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from crossinvest.analytics.cube import variant_bit
from crossinvest.analytics.dims import NO_SUPPORT_NAME, UNKNOWN_NAME, is_origin_dim
from crossinvest.analytics.periods import Period

ORIGIN_COL = {"origin_province": "o_prov", "origin_prefecture": "o_pref", "district": "o_dist"}


@dataclass(frozen=True)
class Lookups:
    """The resolved reference lookups (lookups.py) as Ibis tables."""

    regions: ir.Table
    industries: ir.Table
    support: ir.Table


def needed_columns(kind: str, dims: list[str]) -> list[str]:
    """Cube columns the dimensions (and filters) read."""
    cols: list[str] = []
    for d in dims:
        if is_origin_dim(kind, d):
            cols.append(ORIGIN_COL[d])
        elif d.startswith("industry_"):
            cols += ["e_div", "e_sec"]
        else:
            cols.append("e_region")
    return list(dict.fromkeys(cols))


def answer(
    cube: ir.Table,
    lk: Lookups,
    *,
    kind: str,
    period: Period,
    dims: list[str],
    penetrate: bool = False,
    include_persons: bool = False,
    filters: dict[str, list[str | None]] | None = None,
) -> ir.Table:
    """Grouped figures: one row per combination of ``dims`` with at least one enterprise.

    ``cube`` holds one kind at one origin level; the variant (penetrate, persons)
    is picked by its bit in ``mask``. ``filters`` maps a dimension to
    the codes to keep (``None`` in the list keeps the unknown group). With
    ``dims == []`` the single row is the total over distinct enterprises.
    """
    filters = filters or {}
    r, p0, y = period.end_ym, period.start_ym, period.year
    bit = variant_bit(penetrate, include_persons)
    inv_col = f"inv{bit.bit_length() - 1}"
    c = cube.filter(
        ((cube.mask & bit) != 0)
        & (cube.est_b <= r)
        & (cube.end_b > r)
        & ((cube.src == 0) | ((cube.src == 1) & (cube.tm == y)))
    )
    all_dims = list(dict.fromkeys([*dims, *filters]))
    cols = needed_columns(kind, all_dims)
    base = c.src == 0
    # The period's months, from the yearly rows' month columns.
    month_tax = sum(c[f"t{m % 100:02d}"].fill_null(0) for m in period.months)
    sums = {
        "n": ibis.ifelse(base, c.n, 0).sum(),
        "new": ibis.ifelse(base & (c.est_b >= p0), c.n, 0).sum(),
        "inv": ibis.ifelse(base, c[inv_col], None).sum(),
        "tax": ibis.ifelse(c.src == 1, month_tax, None).sum(),
        "rev": ibis.ifelse(c.src == 1, c.rev, None).sum(),
        "emp": ibis.ifelse(c.src == 1, c.emp, None).sum(),
    }
    agg = c.group_by(cols).aggregate(**sums) if cols else c.aggregate(**sums)
    return finish(agg, lk, kind=kind, period=period, dims=dims, filters=filters)


def finish(
    agg: ir.Table,
    lk: Lookups,
    *,
    kind: str,
    period: Period,
    dims: list[str],
    filters: dict[str, list[str | None]] | None = None,
) -> ir.Table:
    """From per-cell measures (n, new, inv, tax, rev, emp beside the cube columns the
    dimensions read) to the figures: dimensions and names resolved, filters applied,
    summed per group. Shared by the cube answer and the live per-enterprise answer.
    """
    filters = filters or {}
    all_dims = list(dict.fromkeys([*dims, *filters]))
    t, derived = _derive(agg, lk, kind, period, all_dims)
    pred = []
    for d, values in filters.items():
        code = derived[d][0]
        vals = [v for v in values if v is not None]
        p = code.isin(vals) if vals else ibis.literal(False)
        if None in values:
            p = p | code.isnull()
        pred.append(p)
    if pred:
        t = t.filter(*pred)
    out_cols = {}
    for d in dims:
        out_cols[d], out_cols[f"{d}_name"] = derived[d]
    t = t.mutate(**out_cols) if out_cols else t
    measures = {
        "enterprises": t.n.sum(),
        "new_enterprises": t.new.sum(),
        "investment_wan": t.inv.sum(),
        "tax_wan": t.tax.sum(),
        "revenue_wan": t.rev.sum(),
        "employees": t.emp.sum(),
    }
    keys = [k for d in dims for k in (d, f"{d}_name")]
    res = t.group_by(keys).aggregate(**measures) if keys else t.aggregate(**measures)
    return res.filter(res.enterprises > 0) if keys else res


def _derive(agg: ir.Table, lk: Lookups, kind: str, period: Period, dims: list[str]):
    """Join the lookups the dimensions need; return the table and {dim: (code, name)} on it."""
    t = agg
    names = lk.regions.select("code", "name")

    def region_name(col: str, alias: str):
        nonlocal t
        v = names.rename({f"{alias}_c": "code", f"{alias}_n": "name"})
        t = t.left_join(v, t[col] == v[f"{alias}_c"]).drop(f"{alias}_c")

    wants_e_region = any(not is_origin_dim(kind, d) and not d.startswith("industry_") for d in dims)
    if wants_e_region:
        er = lk.regions.select(
            er_code="code",
            e_prov="province_code",
            e_prov_n="province_name",
            e_pref="prefecture_code",
            e_pref_n="prefecture_name",
            e_dist="district_code",
            e_dist_n="district_name",
        )
        t = t.left_join(er, t.e_region == er.er_code).drop("er_code")
    if "support_region" in dims:
        ref = ibis.literal(period.reference_date)
        s = lk.support
        s = s.filter(
            (s.valid_from.isnull() | (s.valid_from <= ref))
            & (s.valid_to.isnull() | (s.valid_to >= ref))
        )
        s = s.select(sp_c="code", sp_code="support_code", sp_name="support_name")
        t = t.left_join(s, t.e_region == s.sp_c).drop("sp_c")
    if any(d.startswith("industry_") for d in dims):
        ind = lk.industries
        dv = ind.filter(ind.division_code.notnull()).select(
            dv_c="division_code", dv_n="division_name", dv_sec="section"
        )
        t = t.left_join(dv, t.e_div == dv.dv_c).drop("dv_c")
        t = t.mutate(sec_code=t.e_sec.fill_null(t.dv_sec))
        sc = ind.filter(ind.division_code.isnull()).select(sc_c="section", sc_n="section_name")
        t = t.left_join(sc, t.sec_code == sc.sc_c).drop("sc_c")
    for d in dims:
        if is_origin_dim(kind, d):
            col = ORIGIN_COL[d]
            region_name(col, f"n_{col}")
    derived: dict[str, tuple[ir.Value, ir.Value]] = {}
    unknown = ibis.literal(UNKNOWN_NAME)
    for d in dims:
        if is_origin_dim(kind, d):
            col = ORIGIN_COL[d]
            code, name = t[col], t[f"n_{col}_n"]
        elif d == "district":
            code, name = t.e_dist, t.e_dist_n
        elif d == "dest_province":
            code, name = t.e_prov, t.e_prov_n
        elif d == "dest_prefecture":
            code, name = t.e_pref, t.e_pref_n
        elif d == "support_region":
            code, name = t.sp_code, t.sp_name
        elif d == "industry_division":
            code, name = t.e_div, t.dv_n
        elif d == "industry_section":
            code, name = t.sec_code, t.sc_n
        else:  # pragma: no cover - dims are checked before
            raise KeyError(d)
        fallback = ibis.literal(NO_SUPPORT_NAME) if d == "support_region" else unknown
        derived[d] = (code, ibis.ifelse(code.isnull(), fallback, name.fill_null(code)))
    return t, derived
