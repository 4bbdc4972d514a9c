"""One chunk of enterprises turned into delivery rows, before any noise.

``build_chunk`` is a pure function of the world's parameters and the index
range, so chunks can be built in worker processes and written, in order, by
the parent (which alone injects noise and numbers rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from crossinvest.generate import render
from crossinvest.generate.owners import FOR, NAT, PASS, POT, PSH, shareholders
from crossinvest.generate.parties import PartyPools
from crossinvest.generate.population import HOLDING, OUTBOUND, Ent, Population
from crossinvest.generate.registry import registry_columns
from crossinvest.generate.taxstats import Rows, stats_rows, tax_rows
from crossinvest.generate.vocab import STATUSES

ENT_SCHEMA = pa.schema(
    [
        ("registry_row", pa.int64()),
        ("uscc", pa.string()),
        ("reg_no", pa.string()),
        ("name", pa.string()),
        ("kind", pa.string()),
        ("holding_level", pa.int8()),
        ("region_code", pa.string()),
        ("support_region", pa.bool_()),
        ("established_on", pa.date32()),
        ("status", pa.string()),
        ("deregistered_on", pa.date32()),
        ("deregistered_on_shown", pa.bool_()),
        ("active", pa.bool_()),
        ("registered_capital", pa.float64()),
        ("currency", pa.string()),
        ("industry_code", pa.string()),
        ("in_tax", pa.bool_()),
        ("in_stats", pa.bool_()),
    ]
)


@dataclass
class ChunkData:
    start: int
    n: int
    reg_cols: dict[str, pa.Array]
    reg_typed: dict[str, np.ndarray]
    reg_eligible: np.ndarray  # may become a bad or warning row
    reg_quiet: np.ndarray  # may carry a formula-like cell (not in tax or stats)
    ent_truth: pa.Table  # registry_row still 0: the writer knows the row numbers
    sh_cols: dict[str, pa.Array]
    sh_eligible: np.ndarray
    tax: Rows
    stats: Rows
    counts: dict[str, int]


def build_chunk(
    pop: Population, pools: PartyPools, start: int, stop: int, noise: bool
) -> ChunkData:
    idx = np.arange(start, stop)
    ent = pop.enterprises(idx)
    hold = shareholders(pop, pools, ent)
    tax = tax_rows(pop, ent)
    st = stats_rows(pop, ent, noise)
    pos = np.arange(len(idx))
    in_tax = np.isin(pos, tax.ent_pos)
    in_stats = np.isin(pos, st.ent_pos)
    cols, typed = registry_columns(pop, pools, ent, hold.entity_type)
    eligible = (ent.kind != HOLDING) & ~ent.reg_no_only
    return ChunkData(
        start=start,
        n=len(idx),
        reg_cols=cols,
        reg_typed=typed,
        reg_eligible=eligible,
        reg_quiet=eligible & ~in_tax & ~in_stats,
        ent_truth=_enterprise_truth(pop, ent, in_tax, in_stats),
        sh_cols=dict(hold.columns),
        sh_eligible=~hold.structural,
        tax=tax,
        stats=st,
        counts=_counts(ent, hold.cls),
    )


def _enterprise_truth(
    pop: Population, ent: Ent, in_tax: np.ndarray, in_stats: np.ndarray
) -> pa.Table:
    n = len(ent.idx)
    return pa.table(
        {
            "registry_row": pa.array(np.zeros(n, dtype=np.int64)),
            "uscc": ent.uscc,
            "reg_no": ent.reg_no,
            "name": ent.name,
            "kind": pa.array(np.where(ent.kind == OUTBOUND, "outbound", "shanghai")),
            "holding_level": pa.array(ent.level.astype(np.int8)),
            "region_code": render.text(ent.region),
            "support_region": pa.array(ent.support),
            "established_on": pa.array(ent.est.astype("datetime64[D]"), pa.date32()),
            "status": pa.array(list(STATUSES)).take(pa.array(ent.status)),
            "deregistered_on": pa.array(ent.dereg.astype("datetime64[D]"), pa.date32()),
            "deregistered_on_shown": pa.array(ent.dereg_shown),
            "active": pa.array(ent.active),
            "registered_capital": pa.array(ent.cap_c / 100.0),
            "currency": pc.if_else(pa.array(ent.usd), "USD", "CNY"),
            "industry_code": pop.industry_code(ent.industry),
            "in_tax": pa.array(in_tax),
            "in_stats": pa.array(in_stats),
        },
        schema=ENT_SCHEMA,
    )


def _counts(ent: Ent, cls: np.ndarray) -> dict[str, int]:
    c = {
        "enterprises": len(ent.idx),
        "shanghai": (ent.kind != OUTBOUND).sum(),
        "outbound": (ent.kind == OUTBOUND).sum(),
        "outbound_support_region": ent.support.sum(),
        "reg_no_only": ent.reg_no_only.sum(),
        "historical_region_code": np.isin(ent.region, (310103, 310108, 310119, 310230)).sum(),
        "deregistered": (~np.isnat(ent.dereg)).sum(),
        "active_at_reference_date": ent.active.sum(),
        "shareholder_rows": len(cls),
        "natural_person_rows": np.isin(cls, (PSH, POT, PASS)).sum(),
        "foreign_investor_rows": (cls == FOR).sum(),
        "national_group_rows": (cls == NAT).sum(),
    }
    for level in (1, 2, 3):
        c[f"holdings_level_{level}"] = (ent.level == level).sum()
    return {k: int(v) for k, v in c.items()}


# ---- worker processes ------------------------------------------------------------------------

_WORLD: tuple[Population, PartyPools] | None = None


def init_worker(n: int, seed: int, year: int) -> None:
    global _WORLD
    pop = Population(n, seed, year)
    _WORLD = (pop, PartyPools(pop))


def work(args: tuple[int, int, bool]) -> ChunkData:
    assert _WORLD is not None, "init_worker was not called"
    return build_chunk(*_WORLD, *args)
