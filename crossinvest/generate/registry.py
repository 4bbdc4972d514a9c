"""Registry (企业登记信息) and shareholder (股东及出资信息) delivery columns."""

from __future__ import annotations

import csv
from importlib import resources

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from crossinvest.generate import render
from crossinvest.generate.noise import check_char, set_value
from crossinvest.generate.parties import PartyPools
from crossinvest.generate.population import OUTBOUND, Ent, Population
from crossinvest.generate.vocab import ENTITY_TYPES, GENERIC_ROADS, SHANGHAI_ROADS, STATUSES

REGISTRY_FIELDS = (
    "uscc",
    "reg_no",
    "name",
    "entity_type",
    "legal_representative",
    "established_on",
    "registered_capital",
    "currency",
    "registration_authority",
    "address",
    "region_code",
    "industry_code",
    "status",
    "deregistered_on",
)
SHAREHOLDER_FIELDS = (
    "enterprise_uscc",
    "investor_name",
    "investor_type",
    "investor_id_type",
    "investor_id",
    "subscribed_capital",
    "paid_capital",
    "share_ratio",
    "contributed_on",
    "investor_region_code",
)


def _unknown_industry_codes() -> list[str]:
    text = (
        resources.files("crossinvest").joinpath("data/gbt4754-2017.csv").read_text(encoding="utf-8")
    )
    known = {r["code"] for r in csv.DictReader(text.splitlines())}
    return [c for c in ("9999", "0000", "8888", "1000", "5555") if c not in known]


REGISTRY_DEFECTS = (
    check_char("uscc"),
    set_value("bad_date", "established_on", lambda v, y: f"{y}-02-30"),
    set_value("negative_amount", "registered_capital", lambda v, y: "-" + v.lstrip("-")),
    set_value("missing_required", "name", lambda v, y: ""),
    set_value("missing_identity", "uscc", lambda v, y: "", also=("reg_no",)),
)
REGISTRY_WARNINGS = (
    set_value(
        "unknown_industry", "industry_code", lambda v, y: _unknown_industry_codes()[len(v) % 3]
    ),
    set_value(
        "section_mismatch",
        "industry_code",
        lambda v, y: ("B" if v[:1] == "A" else "A") + v.lstrip("ABCDEFGHIJKLMNOPQRST"),
    ),
    set_value("unknown_region", "region_code", lambda v, y: "310199"),
)
SHAREHOLDER_DEFECTS = (
    check_char("enterprise_uscc"),
    set_value("bad_ratio", "share_ratio", lambda v, y: "350%"),
    set_value("negative_amount", "subscribed_capital", lambda v, y: "-" + v.lstrip("-")),
    set_value("missing_required", "investor_name", lambda v, y: ""),
    set_value("bad_date", "contributed_on", lambda v, y: f"{y}-02-30"),
)
SHAREHOLDER_WARNINGS = (set_value("unknown_region", "investor_region_code", lambda v, y: "999999"),)
FORMULA_PREFIXES = ("=", "+", "-", "@")


def registry_columns(
    pop: Population, pools: PartyPools, ent: Ent, entity_type: np.ndarray
) -> tuple[dict[str, pa.Array], dict[str, np.ndarray]]:
    """Registry cells as strings, plus typed values for XLSX cells.

    The second value holds ``date_cell`` (write 成立日期 as an XLSX date) and
    ``number_cell`` (write 注册资本 as a number) masks with the values.
    """
    r, idx = pop.rng, ent.idx
    n = len(idx)
    out = ent.kind == OUTBOUND

    est_form = r.choice("est-form", idx, np.array([0.5, 0.15, 0.1, 0.15, 0.1]))
    established = render.date_forms(ent.est, est_form)

    cap_form = r.choice("cap-form", idx, np.array([0.6, 0.25, 0.1, 0.05]))
    cap_plain = render.wan4(ent.cap_c * 100)
    cap_yuan = render.cat(render.text(ent.cap_c * 100), "元")
    capital = pc.if_else(pa.array(cap_form == 1), render.cat(cap_plain, "万元"), cap_plain)
    capital = pc.if_else(pa.array(cap_form == 2), cap_yuan, capital)
    usd_suffix = r.uniform("usd-suffix", idx) < 0.5
    capital = pc.if_else(pa.array(ent.usd & usd_suffix), render.cat(cap_plain, "万美元"), capital)
    capital = pc.if_else(pa.array(ent.usd & ~usd_suffix), cap_plain, capital)
    currency = pc.if_else(pa.array(r.uniform("currency", idx) < 0.4), "人民币", "")
    currency = pc.if_else(pa.array(ent.usd), "美元", currency)

    sh_place = np.where(out, 0, ent.place)
    dest_place = np.where(out, ent.place, 0)
    authority = pc.if_else(
        pa.array(out),
        pa.array(pop.dest.authority).take(pa.array(dest_place)),
        pa.array(pop.sh.authority).take(pa.array(sh_place)),
    )
    prefix = pc.if_else(
        pa.array(out),
        pa.array(pop.dest.address).take(pa.array(dest_place)),
        pa.array(pop.sh.address).take(pa.array(sh_place)),
    )
    road = pc.if_else(
        pa.array(out),
        pa.array(GENERIC_ROADS).take(pa.array(r.below("road", idx, len(GENERIC_ROADS)))),
        pa.array(SHANGHAI_ROADS).take(pa.array(r.below("road", idx, len(SHANGHAI_ROADS)))),
    )
    number = render.text(1 + (r.uniform("road-no", idx) ** 2 * 2000).astype(np.int64))
    suffix_kind = r.choice("address-suffix", idx, np.array([0.5, 0.3, 0.2]))
    room = render.text(101 + r.below("room", idx, 2000))
    building = render.text(1 + r.below("building", idx, 12))
    suffix = pc.if_else(pa.array(suffix_kind == 1), render.cat(building, "幢", room, "室"), "")
    suffix = pc.if_else(pa.array(suffix_kind == 2), render.cat(building, "层", room, "室"), suffix)
    address = render.cat(prefix, road, number, "号", suffix)

    region = pc.if_else(
        pa.array(r.uniform("region-missing", idx) < 0.05), "", render.text(ent.region)
    )
    code = pop.industry_code(ent.industry)
    industry = pc.if_else(
        pa.array(r.uniform("industry-letter", idx) < 0.4),
        render.cat(pop.section(ent.industry), code),
        code,
    )
    status = pa.array(list(STATUSES)).take(pa.array(ent.status))
    dereg_form = r.choice("dereg-form", idx, np.array([0.6, 0.2, 0.2, 0.0, 0.0]))
    dereg = np.where(ent.dereg_shown, ent.dereg, np.datetime64("NaT"))
    rep = pools.person_names(idx + (1 << 41), r.uniform("rep-sex", idx) < 0.7)
    columns = {
        "uscc": ent.uscc,
        "reg_no": ent.reg_no,
        "name": ent.name,
        "entity_type": pa.array(list(ENTITY_TYPES)).take(pa.array(entity_type)),
        "legal_representative": rep,
        "established_on": established,
        "registered_capital": capital,
        "currency": currency,
        "registration_authority": authority,
        "address": address,
        "region_code": region,
        "industry_code": industry,
        "status": status,
        "deregistered_on": render.date_forms(dereg, dereg_form),
    }
    typed = {
        "date_cell": r.uniform("xlsx-date", idx) < 0.5,
        "est": ent.est,
        "number_cell": (cap_form == 0) & ~ent.usd,
        "capital": ent.cap_c / 100.0,
    }
    assert len(columns["uscc"]) == n
    return columns, typed


def formula_cells(
    pop: Population, columns: dict[str, pa.Array], eligible: np.ndarray
) -> list[tuple[int, str]]:
    """Cells that start with = + - @ (data, never formulas): four addresses, one name."""
    pos = np.flatnonzero(eligible)[:5]
    changed: list[tuple[int, str]] = []
    for j, p in enumerate(pos):
        column = "name" if j == 4 else "address"
        prefix = FORMULA_PREFIXES[j % 4] if j < 4 else "="
        value = columns[column][int(p)].as_py()
        value = f'=HYPERLINK("http://example.invalid","{value}")' if j == 0 else prefix + value
        columns[column] = render.scatter(columns[column], np.array([p]), pa.array([value]))
        changed.append((int(p), column))
    return changed
