"""Shareholders of a chunk of enterprises: who holds what, as delivery columns.

Ownership rules (see population.py for the enterprise kinds):

- ordinary Shanghai enterprises: natural persons, groups elsewhere, Shanghai
  holdings, earlier registry enterprises, national groups, foreign investors;
- holdings of level 1: a group elsewhere (or a national group, or a person);
  level 2-3: the parent holding one level up, plus others;
- outbound enterprises: a Shanghai registry enterprise first, then locals;
- cycle members: forced parents, and the cycle's last member holds 10% of
  its first one.

Investors of an ordinary enterprise that are registry enterprises always have
a smaller index or are holdings, so the only cycles are the intended ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from crossinvest.generate import render
from crossinvest.generate.parties import Parties, PartyPools
from crossinvest.generate.population import HOLDING, HOLDING_EVERY, OUTBOUND, Ent, Population

# Investor classes (identity = class + id within the class).
PSH, POT, REG, EXT, NAT, FOR, PASS = range(7)
# Slot roles resolved into REG investors.
HOLDPICK, PRIOR, PARENT, OUTSH, CLOSER = range(10, 15)

ORDINARY_SLOTS = np.array([0.28, 0.30, 0.19, 0.11, 0.06, 0.035, 0.025])
HOLDING_SLOTS = np.array([0.5, 0.3, 0.2])
OUTBOUND_SLOTS = np.array([0.4, 0.3, 0.2, 0.1])
ORDINARY_MIX = (
    (PSH, 0.40),
    (POT, 0.14),
    (HOLDPICK, 0.10),
    (PRIOR, 0.06),
    (EXT, 0.20),
    (NAT, 0.02),
    (FOR, 0.05),
    (PASS, 0.01),
)
HOLDING_MIX = ((EXT, 0.45), (PSH, 0.25), (POT, 0.05), (FOR, 0.1), (NAT, 0.15))
OUTBOUND_MIX = ((POT, 0.4), (PSH, 0.2), (EXT, 0.3), (OUTSH, 0.1))
LEVEL1_FIRST = ((EXT, 0.75), (NAT, 0.10), (PSH, 0.15))


@dataclass
class Holdings:
    """Shareholder rows of a chunk (ordered by enterprise, then slot)."""

    ent_pos: np.ndarray  # position of the enterprise in the chunk
    cls: np.ndarray
    inv: np.ndarray  # id within the class (registry index for REG)
    structural: np.ndarray  # holding / cycle edges: never made a bad row
    columns: dict[str, pa.Array]
    entity_type: np.ndarray  # per enterprise of the chunk, index into ENTITY_TYPES


def _pick(r, stream: str, key: np.ndarray, mix) -> np.ndarray:
    kinds = np.array([k for k, _ in mix])
    return kinds[r.choice(stream, key, np.array([w for _, w in mix]))]


def shareholders(pop: Population, pools: PartyPools, ent: Ent) -> Holdings:
    r = pop.rng
    n = len(ent.idx)
    nslots = np.where(
        ent.kind == HOLDING,
        1 + r.choice("nslots-h", ent.idx, HOLDING_SLOTS),
        np.where(
            ent.kind == OUTBOUND,
            1 + r.choice("nslots-o", ent.idx, OUTBOUND_SLOTS),
            1 + r.choice("nslots", ent.idx, ORDINARY_SLOTS),
        ),
    )
    closer_keys = np.array(sorted(pop.cycle_closer), dtype=np.int64)
    closes = np.isin(ent.idx, closer_keys)
    nslots = np.where(ent.reg_no_only, 0, nslots + closes)

    e = np.repeat(np.arange(n), nslots)
    starts = np.concatenate([[0], np.cumsum(nslots)[:-1]])
    slot = np.arange(len(e)) - np.repeat(starts, nslots)
    last = slot == (nslots[e] - 1)
    i = ent.idx[e]
    key = i * 16 + slot
    kind, level = ent.kind[e], ent.level[e]

    role = _pick(r, "mix-o", key, ORDINARY_MIX)
    role = np.where(kind == HOLDING, _pick(r, "mix-h", key, HOLDING_MIX), role)
    role = np.where(kind == OUTBOUND, _pick(r, "mix-b", key, OUTBOUND_MIX), role)
    first = slot == 0
    role = np.where(
        first & (kind == HOLDING) & (level == 1), _pick(r, "mix-l1", key, LEVEL1_FIRST), role
    )
    role = np.where(first & (kind == HOLDING) & (level >= 2), PARENT, role)
    role = np.where(first & (kind == OUTBOUND), OUTSH, role)
    role = np.where(first & ent.foreign_invested[e], FOR, role)
    role = np.where(last & closes[e], CLOSER, role)

    inv = np.zeros(len(e), dtype=np.int64)
    u = r.uniform("investor", key)
    inv = np.where(role == PSH, (u * pop.p_sh).astype(np.int64), inv)
    inv = np.where(role == POT, (u * pop.p_other).astype(np.int64), inv)
    # Groups elsewhere: 30% go to the provincial flagship groups (pool members
    # 0-29, one per province) so that every province invests; the rest skewed
    # towards the big groups at the start of the pool.
    flagship = pools.flagships
    u_ext = r.uniform("investor-ext", key)
    ext = np.where(
        u_ext < 0.3,
        (u_ext / 0.3 * flagship).astype(np.int64),
        (pop.m_ext * u**1.5).astype(np.int64),
    )
    inv = np.where(role == EXT, ext, inv)
    inv = np.where(role == NAT, (u * pop.m_nat).astype(np.int64), inv)
    inv = np.where(role == FOR, (pop.m_for * u**1.3).astype(np.int64), inv)
    inv = np.where(role == PASS, (u * max(20, pop.m_for // 4)).astype(np.int64), inv)
    random_holding = HOLDING_EVERY * (u * pop.n_hold).astype(np.int64)
    inv = np.where(role == HOLDPICK, random_holding, inv)
    prior = (u * i).astype(np.int64)
    inv = np.where(role == PRIOR, prior, inv)
    inv = np.where((role == OUTSH) & (pop.kind(prior) == OUTBOUND), random_holding, inv)
    inv = np.where((role == OUTSH) & (pop.kind(prior) != OUTBOUND), prior, inv)
    for lvl in (2, 3):
        m = role == PARENT
        m &= level == lvl
        count = pop.holdings_at(lvl - 1)
        inv = np.where(m, pop.holding_index(lvl - 1, (u * max(count, 1)).astype(np.int64)), inv)
    for r_, mapping in ((PARENT, pop.cycle_parent), (CLOSER, pop.cycle_closer)):
        found, target = _lookup(mapping, i)
        inv = np.where((role == r_) & found, target, inv)
    cls = np.where(role >= HOLDPICK, REG, role)

    # Registry investors without a USCC cannot be named: persons (or a holding) instead.
    reg = cls == REG
    bad = np.zeros(len(e), dtype=bool)
    bad[reg] = pop.life(inv[reg])[4]  # reg_no_only
    if bad.any():
        to_hold = bad & (role == OUTSH)
        inv = np.where(to_hold, random_holding, inv)
        cls = np.where(bad & ~to_hold, PSH, cls)
        inv = np.where(bad & ~to_hold, (u * pop.p_sh).astype(np.int64), inv)

    keep = _dedupe(e, cls, inv)
    e, slot, cls, inv, role, key, i = (
        e[keep],
        slot[keep],
        cls[keep],
        inv[keep],
        role[keep],
        key[keep],
        i[keep],
    )
    structural = (ent.kind[e] == HOLDING) | np.isin(role, (HOLDPICK, PARENT, CLOSER, OUTSH))
    bp = _ratios(r, ent, e, role, key, n)
    columns, region_code = _columns(pop, pools, ent, e, cls, inv, bp, key)
    return Holdings(e, cls, inv, structural, columns, _entity_types(ent, e, cls, region_code, n))


def _lookup(mapping: dict[int, int], keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised dict lookup: (found, value) per key."""
    if not mapping:
        return np.zeros(len(keys), dtype=bool), np.zeros(len(keys), dtype=np.int64)
    src = np.array(sorted(mapping), dtype=np.int64)
    dst = np.array([mapping[k] for k in sorted(mapping)], dtype=np.int64)
    pos = np.minimum(np.searchsorted(src, keys), len(src) - 1)
    return src[pos] == keys, dst[pos]


def _dedupe(e: np.ndarray, cls: np.ndarray, inv: np.ndarray) -> np.ndarray:
    """Rows to keep: the first slot of each (enterprise, investor)."""
    order = np.lexsort((np.arange(len(e)), inv, cls, e))
    se, sc, si = e[order], cls[order], inv[order]
    dup = np.zeros(len(e), dtype=bool)
    dup[1:] = (se[1:] == se[:-1]) & (sc[1:] == sc[:-1]) & (si[1:] == si[:-1])
    keep = np.ones(len(e), dtype=bool)
    keep[order[dup]] = False
    return keep


def _ratios(r, ent: Ent, e: np.ndarray, role: np.ndarray, key: np.ndarray, n: int) -> np.ndarray:
    """Shares in basis points summing to exactly 10000 per enterprise."""
    w = -np.log1p(-r.uniform("weight", key))
    w = np.where(
        np.isin(role, (PARENT, OUTSH)) | ((role == FOR) & ent.foreign_invested[e]), w * 3 + 1, w
    )
    closer = role == CLOSER
    w = np.where(closer, 0.0, w)
    closer_bp = np.where(closer, 1000, 0)
    total = 10000 - np.bincount(e, weights=closer_bp, minlength=n)[e]
    wsum = np.bincount(e, weights=w, minlength=n)[e]
    fine = r.uniform("fine-ratio", ent.idx)[e] < 0.1
    unit = np.where(fine, 1, 100)
    bp = np.maximum(unit, np.floor(w / np.maximum(wsum, 1e-12) * total / unit) * unit).astype(
        np.int64
    )
    bp = np.where(closer, closer_bp, bp)
    diff = (10000 - np.bincount(e, weights=bp, minlength=n)).astype(np.int64)
    # Give the rounding remainder to each enterprise's largest non-closer holder.
    score = np.where(closer, -1, bp)
    order = np.lexsort((-score, e))
    firsts = order[np.concatenate([[True], e[order][1:] != e[order][:-1]])]
    bp[firsts] += diff[e[firsts]]
    return bp


def _columns(
    pop, pools: PartyPools, ent: Ent, e, cls, inv, bp, key
) -> tuple[dict[str, pa.Array], np.ndarray]:
    r = pop.rng
    m = len(e)
    parts: list[Parties] = []
    order: list[np.ndarray] = []
    region = np.zeros(m, dtype=np.int64)
    for c, fn in (
        (PSH, lambda x: pools.persons(x, True)),
        (POT, lambda x: pools.persons(x, False)),
        (REG, lambda x: _registry_party(pop, x)),
        (EXT, pools.external),
        (NAT, pools.national),
        (FOR, pools.foreign),
        (PASS, pools.passport_persons),
    ):
        sel = np.flatnonzero(cls == c)
        if len(sel):
            p: Parties = fn(inv[sel])
            parts.append(p)
            order.append(sel)
            region[sel] = p.region
    # Gather: rows were computed class by class; put them back in row order.
    inverse_np = np.empty(m, dtype=np.int64)
    inverse_np[np.concatenate(order)] = np.arange(m)
    inverse = pa.array(inverse_np)

    def gather(attr: str) -> pa.Array:
        return pa.concat_arrays([getattr(p, attr).cast(pa.string()) for p in parts]).take(inverse)

    name, ident, typ = gather("name"), gather("ident"), gather("type_label")

    person = np.isin(cls, (PSH, POT))
    has_uscc = np.isin(cls, (REG, EXT, NAT))
    u_idt = r.uniform("id-type", key)
    id_type = np.where(
        person,
        1,
        np.where(
            cls == PASS,
            2,
            np.where(cls == FOR, np.where(u_idt < 0.8, 3, 4), np.where(u_idt < 0.9, 0, 5)),
        ),
    )
    id_type_s = pa.array(["统一社会信用代码", "居民身份证", "护照", "其他", "", "营业执照"]).take(
        pa.array(id_type)
    )

    cap_units = ent.cap_c[e] * bp // 100 + (ent.cap_c[e] * bp % 100 >= 50)  # 元 (1e-4 万)
    usd = ent.usd[e]
    subscribed = render.wan4(cap_units)
    subscribed = pc.if_else(pa.array(usd), render.cat(subscribed, "万美元"), subscribed)
    u_paid = r.uniform("paid", key)
    frac = 0.1 + 0.9 * r.uniform("paid-frac", key)
    paid_units = np.where(u_paid < 0.35, cap_units, np.round(cap_units * frac).astype(np.int64))
    paid = pc.if_else(
        pa.array(usd), render.cat(render.wan4(paid_units), "万美元"), render.wan4(paid_units)
    )
    paid = pc.if_else(pa.array(u_paid < 0.45), paid, "")

    ratio = render.ratio(bp, r.choice("ratio-form", key, np.array([0.4, 0.3, 0.3])))
    u_date = r.uniform("contributed", key)
    years = (r.uniform("contributed-years", key) * 20).astype(np.int64)
    contributed = ent.est[e] + np.where(u_date < 0.2, 0, years * 365) * np.timedelta64(1, "D")
    contributed_s = pc.if_else(pa.array(u_date < 0.5), render.date_iso(contributed), "")

    u_reg = r.uniform("inv-region", key)
    give = (
        (has_uscc & (cls != NAT) & (u_reg < 0.3))
        | ((cls == FOR) & (region > 0) & (u_reg < 0.3))
        | (person & (u_reg < 0.1))
    )
    region_s = pc.if_else(pa.array(give), pc.cast(pa.array(region), pa.string()), "")
    columns = {
        "enterprise_uscc": ent.uscc.take(pa.array(e)),
        "investor_name": name,
        "investor_type": typ,
        "investor_id_type": id_type_s,
        "investor_id": ident,
        "subscribed_capital": subscribed,
        "paid_capital": paid,
        "share_ratio": ratio,
        "contributed_on": contributed_s,
        "investor_region_code": region_s,
    }
    return columns, region


def _registry_party(pop: Population, idx: np.ndarray) -> Parties:
    look = pop.enterprises(idx)
    return Parties(look.name, look.uscc, look.region, pa.array(["企业法人"] * len(idx)))


def _entity_types(ent: Ent, e, cls, region, n) -> np.ndarray:
    """企业类型 consistent with the form of the name and the investors."""

    def count(mask):
        return np.bincount(e, weights=mask.astype(np.float64), minlength=n)

    rows = count(np.ones(len(e), dtype=bool))
    persons = count(np.isin(cls, (PSH, POT, PASS)))
    foreign = count(cls == FOR)
    hk = count((cls == FOR) & np.isin(region // 10000, (71, 81, 82)))
    national = count(cls == NAT)
    out = np.full(n, 3)
    out = np.where(persons > 0, 0, out)
    out = np.where(national > 0, 4, out)
    out = np.where((rows == 1) & (persons == 1), 1, out)
    out = np.where((rows == 1) & (persons == 0), 2, out)
    out = np.where(foreign > 0, np.where(hk > 0, 5, 6), out)
    out = np.where((foreign > 0) & (foreign == rows), np.where(hk == rows, 7, 8), out)
    out = np.where(ent.form == 2, np.where(persons > 0, 9, 10), out)
    return np.where(ent.reg_no_only, 11, out)
