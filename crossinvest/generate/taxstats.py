"""Tax (纳税信息, 元, monthly) and statistics (统计年报, 千元, yearly) rows.

Tax rows exist for Shanghai enterprises registered with the tax bureau: general
taxpayers declare VAT and 城市维护建设税 monthly, small-scale taxpayers VAT
quarterly; everyone prepays 企业所得税 quarterly; some withhold 个人所得税 monthly.
Stats rows exist for enterprises above designated size, for the reference year
and the year before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from crossinvest.generate import codes, render
from crossinvest.generate.noise import set_value
from crossinvest.generate.population import HOLDING, OUTBOUND, Ent, Population
from crossinvest.generate.vocab import TAX_TYPES

VAT, CIT, IIT, UMT = range(4)  # 增值税 企业所得税 个人所得税 城市维护建设税
TAX_FIELDS = ("taxpayer_id", "taxpayer_name", "period", "tax_type", "tax_paid")
STATS_FIELDS = ("uscc", "name", "year", "employees", "revenue", "profit", "total_assets")

TAX_DEFECTS = (
    set_value(
        "bad_period",
        "period",
        lambda v, y: (f"{y}-13", f"{y}年13月", f"{y}-02-30至{y}-03-31")[len(v) % 3],
    ),
    set_value("missing_identity", "taxpayer_name", lambda v, y: "", also=("taxpayer_id",)),
    set_value("missing_required", "tax_paid", lambda v, y: ""),
    set_value("bad_amount", "tax_paid", lambda v, y: "12.5.3"),
)
STATS_DEFECTS = (
    set_value("bad_year", "year", lambda v, y: str(y).replace("0", "O", 1)),
    set_value("bad_count", "employees", lambda v, y: "-12"),
    set_value("missing_required", "name", lambda v, y: ""),
    set_value("bad_amount", "revenue", lambda v, y: "1.2.3"),
    set_value("missing_identity", "name", lambda v, y: "", also=("uscc",)),
)

# How a row names its taxpayer: valid USCC, none, mistyped, legacy 15-char, full-width.
ID_VALID, ID_MISSING, ID_MISTYPED, ID_LEGACY, ID_FULLWIDTH = range(5)
ID_KINDS = ("valid", "missing", "mistyped", "legacy15", "fullwidth")


@dataclass
class Rows:
    """Rows of one source for a chunk: columns plus per-row facts."""

    columns: dict[str, pa.Array]
    true_uscc: pa.Array
    ent_pos: np.ndarray
    month: np.ndarray | None = None  # tax: period month, decides the quarterly file
    id_kind: np.ndarray | None = None  # ID_* of each row's ID cell
    cents: np.ndarray | None = None  # tax: amount paid in cents
    tax_type: np.ndarray | None = None


def taxpayer_ids(
    pop: Population, ent: Ent, e: np.ndarray, key: np.ndarray, weights, stream: str
) -> tuple[pa.Array, np.ndarray]:
    """ID cells per row drawn from ``weights`` over ID kinds; legacy only before the reform."""
    r = pop.rng
    kind = r.choice(stream, key, np.array(weights))
    m = ent.uscc_m[e]
    is_ma = m[:, 8] == ord("M")
    kind = np.where((kind == ID_LEGACY) & is_ma, ID_MISSING, kind)
    valid = codes.to_arrow(m)
    out = pc.if_else(pa.array(kind == ID_MISSING), "", valid)
    sel = np.flatnonzero(kind == ID_MISTYPED)
    if len(sel):
        bad = codes.mistype(
            m[sel], r.uniform(stream + "/pos", key[sel]), r.uniform(stream + "/val", key[sel])
        )
        out = render.scatter(out, sel, codes.to_arrow(bad))
    sel = np.flatnonzero(kind == ID_LEGACY)
    if len(sel):
        out = render.scatter(out, sel, codes.to_arrow(np.ascontiguousarray(m[sel, 2:17])))
    sel = np.flatnonzero(kind == ID_FULLWIDTH)
    if len(sel):
        out = render.scatter(out, sel, codes.fullwidth_matrix(m[sel]))
    return out, kind


def name_variants(
    pop: Population, names: pa.Array, key: np.ndarray, rate: np.ndarray, stream: str
) -> pa.Array:
    """How other bureaus spell a registered name: （分公司）, half-width brackets,
    a trailing space, 有限公司 <-> 有限责任公司."""
    r = pop.rng
    sel = np.flatnonzero(r.uniform(stream, key) < rate)
    if len(sel) == 0:
        return names
    sub = names.take(pa.array(sel))
    kind = pa.array(r.below(stream + "/kind", key[sel], 4))
    branch = render.cat(sub, "（分公司）")
    halfwidth = pc.replace_substring(pc.replace_substring(sub, "（", "("), "）", ")")
    halfwidth = pc.if_else(pc.equal(halfwidth, sub), render.cat(sub, "(分公司)"), halfwidth)
    space = render.cat(sub, " ")
    plain_ltd = pc.and_(pc.ends_with(sub, "有限公司"), pc.invert(pc.ends_with(sub, "股份有限公司")))
    swapped = pc.if_else(
        plain_ltd,
        pc.replace_substring_regex(sub, "有限公司$", "有限责任公司"),
        pc.replace_substring_regex(sub, "有限责任公司$", "有限公司"),
    )
    swapped = pc.if_else(pc.equal(swapped, sub), space, swapped)
    out = branch
    for k, alt in ((1, halfwidth), (2, space), (3, swapped)):
        out = pc.if_else(pc.equal(kind, k), alt, out)
    return render.scatter(names, sel, out)


def tax_rows(pop: Population, ent: Ent) -> Rows:
    r, idx, y = pop.rng, ent.idx, pop.year
    n = len(idx)
    big = ent.cap_c >= 1000 * 100
    taxed = (ent.kind != OUTBOUND) & ~ent.reg_no_only & ent.in_year
    taxed &= r.uniform("taxed", idx) < np.where(ent.kind == HOLDING, 0.6, 0.25)
    general = r.uniform("general", idx) < np.where(big, 0.8, 0.25)
    iit = r.uniform("iit", idx) < np.where(general, 0.5, 0.2)
    est_y, est_m, _ = render.ymd(ent.est)
    first = np.where(est_y < y, 1, est_m)
    dy, dm, _ = render.ymd(np.where(np.isnat(ent.dereg), ent.est, ent.dereg))
    last = np.where(~np.isnat(ent.dereg) & (dy == y), dm, 12)

    who = np.flatnonzero(taxed)
    e = np.repeat(who, 48)
    month = np.tile(np.repeat(np.arange(1, 13), 4), len(who))
    typ = np.tile(np.arange(4), 12 * len(who))
    quarter_end = month % 3 == 0
    g = general[e]
    keep = np.where(typ == VAT, g | quarter_end, False)
    keep |= (typ == CIT) & quarter_end
    keep |= (typ == IIT) & iit[e]
    keep |= (typ == UMT) & g
    keep &= (month >= first[e]) & (month <= last[e])
    key = (idx[e] * 16 + month) * 4 + typ
    keep &= r.uniform("declared", key) > 0.05
    e, month, typ, key = e[keep], month[keep], typ[keep], key[keep]

    # Amounts in cents; 城市维护建设税 is 7% of the same month's VAT.
    scale = (
        ent.size[e] * 3e5 * np.where(general[e], 1.0, 2.0)
    )  # quarterly payers pay 3 months at once
    vat_key = (idx[e] * 16 + month) * 4 + VAT
    amount = np.empty(len(e))
    for t in (VAT, UMT, CIT, IIT):  # draw only what each tax type needs
        m = typ == t
        if t in (VAT, UMT):
            vat = scale[m] * np.exp(0.5 * r.normal("vat", vat_key[m]))
            amount[m] = vat if t == VAT else vat * 0.07
        elif t == CIT:
            amount[m] = scale[m] * 1.5 * np.exp(0.6 * r.normal("cit", key[m]))
        else:
            amount[m] = scale[m] * 0.2 * np.exp(0.4 * r.normal("iit", key[m]))
    cents = np.maximum(np.round(amount), 1).astype(np.int64)

    ident, kind = taxpayer_ids(pop, ent, e, key, (0.85, 0.07, 0.03, 0.03, 0.0), "tax-id")
    rate = np.where(kind == ID_VALID, 0.05, 0.6)
    name = name_variants(pop, ent.name.take(pa.array(e)), key, rate, "tax-name")
    period = render.period_forms(
        y, month, r.choice("period-form", key, np.array([0.4, 0.25, 0.2, 0.1, 0.05]))
    )
    columns = {
        "taxpayer_id": ident,
        "taxpayer_name": name,
        "period": period,
        "tax_type": pa.array(list(TAX_TYPES)).take(pa.array(typ)),
        "tax_paid": render.money(cents, r.uniform("thousands", key) < 0.3),
    }
    assert n >= 0
    return Rows(columns, ent.uscc.take(pa.array(e)), e, month, kind, cents, typ)


def stats_rows(pop: Population, ent: Ent, noise: bool) -> Rows:
    r, idx, y = pop.rng, ent.idx, pop.year
    above = (ent.kind != OUTBOUND) & ~ent.reg_no_only & ent.active
    above &= r.uniform("above-size", idx) < np.where(ent.kind == HOLDING, 0.3, 0.08)
    est_y = render.ymd(ent.est)[0]
    who = np.flatnonzero(above)
    e = np.repeat(who, 2)
    year = np.tile(np.array([y - 1, y]), len(who))
    keep = est_y[e] <= year
    e, year = e[keep], year[keep]
    key = idx[e] * 4 + (year - y + 2)

    ident, kind = taxpayer_ids(pop, ent, e, key, (0.80, 0.07, 0.05, 0.0, 0.08), "stats-id")
    rate = np.where(np.isin(kind, (ID_VALID, ID_FULLWIDTH)), 0.05, 0.5)
    name = name_variants(pop, ent.name.take(pa.array(e)), key, rate, "stats-name")
    growth = np.where(year == y, 1.0, 0.9)
    revenue = ent.size[e] * 2e4 * growth * np.exp(0.3 * r.normal("revenue", key))  # 千元
    employees = np.maximum(
        20, np.round(revenue / 1500 * np.exp(0.4 * r.normal("employees", key)))
    ).astype(np.int64)
    profit = revenue * (0.02 + 0.1 * r.uniform("margin", key))
    assets = revenue * (0.6 + 1.4 * r.uniform("assets", key))
    year_s = pc.if_else(
        pa.array(r.uniform("year-form", key) < 0.5),
        render.cat(render.text(year), "年"),
        render.text(year),
    )
    columns = {
        "uscc": ident,
        "name": name,
        "year": year_s,
        "employees": render.text(employees),
        "revenue": render.decimals1(np.round(revenue * 10).astype(np.int64)),
        "profit": render.decimals1(np.round(profit * 10).astype(np.int64)),
        "total_assets": render.decimals1(np.round(assets * 10).astype(np.int64)),
    }
    if noise:  # an unknown column that a loader keeps in the raw archive only
        columns["remark"] = pc.if_else(pa.array(r.uniform("remark", key) < 0.05), "已审核", "")
    return Rows(columns, ent.uscc.take(pa.array(e)), e, None, kind)


def blanked(cells: pa.Array, kind: np.ndarray) -> np.ndarray:
    """``kind`` updated for ID cells that noise has blanked."""
    empty = pc.equal(cells, "").to_numpy(zero_copy_only=False)
    return np.where(empty, ID_MISSING, kind).astype(np.int8)
