"""Answers computed now rather than read from the cube: Spark, a cold recompute, a period
outside the materialised horizon.

The same expressions as the materialised path — ``model.origins``, ``direct_groups``,
penetration, ``enterprises`` — then, instead of the cube, one row per (enterprise,
origin cell) for the period (``cube.enterprise_rows``), finished by the same
``answer.finish`` as a cube answer. Group rows and the total row are one statement
(shared work runs once). Penetration needs several passes and materialises its inputs.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from crossinvest.analytics import answer as answer_mod
from crossinvest.analytics import cube, model, penetration
from crossinvest.analytics.engine import DuckDBEngine, Engine
from crossinvest.analytics.periods import Period


def _inputs(
    eng: Engine,
    inp: Any,
    *,
    kind: str,
    period: Period,
    penetrate: bool,
    from_cube_tables: bool,
    key,
) -> tuple[dict[str, ir.Table], list[ir.Table]]:
    """groups/ents/yearly/regions for one period, and the temp tables made for them."""
    temps: list[ir.Table] = []
    if from_cube_tables:
        return {
            "groups": eng.table("an_groups"),
            "ents": eng.table("an_enterprises"),
            "yearly": eng.table("an_yearly"),
            "measures": None,
            "regions": eng.table("an_region_lookup"),
        }, temps
    regions = inp.regions
    ents = model.enterprises(inp.registry, regions)
    o = model.origins(inp.shareholders, inp.registry, regions)
    direct = model.direct_groups(o, ents)
    groups = direct.filter(direct.kind == kind)
    if penetrate:
        # Several passes read the origins and groups: compute them once.
        o = eng.materialize(o, "_an_live_o", key=key("o"))
        direct = eng.materialize(
            lambda: model.direct_groups(o, ents).filter(lambda t: t.kind == kind),
            "_an_live_direct",
            key=key("d"),
        )
        pg, start_res = penetration.penetrate_live(
            eng, direct, model.pen_edges(o, ents), ents, kind, cache=key("x") is not None
        )
        groups = ibis.union(direct, pg.select(*direct.columns))
        temps += [o, direct, pg, start_res]
    return {
        "groups": groups,
        "ents": ents,
        "yearly": None,
        "measures": cube.period_measures(
            inp.tax_linked, inp.stats_linked, period.start_ym, period.end_ym
        ),
        "regions": regions,
    }, temps


def live_answer(
    eng: Engine,
    inp: Any,
    dims: list[str],
    flt: dict[str, list[str | None]],
    group_level: int,
    total_level: int,
    *,
    from_cube_tables: bool,
    kind: str,
    period: Period,
    penetrate: bool,
    include_persons: bool,
) -> tuple[list[dict], list[dict]]:
    """(group rows, [total row]) for one statistic, computed from ``inp`` (or the warehouse).

    ``inp`` None means the warehouse's own tables on a DuckDB engine; then the
    compiled SQL is cached (every name involved is fixed).
    """
    cache = isinstance(eng, DuckDBEngine) and (inp is None or from_cube_tables)
    if inp is None and not from_cube_tables:
        from crossinvest.analytics.materialize import inputs as warehouse_inputs

        inp = warehouse_inputs(eng)
    if inp is None:
        lk = answer_mod.Lookups(
            eng.table("an_region_lookup"),
            eng.table("an_industry_lookup"),
            eng.table("an_support_lookup"),
        )
    else:
        lk = answer_mod.Lookups(inp.regions, inp.industries, inp.support)
    tag = f"live:{kind}:{period.label}:{int(penetrate)}:{int(from_cube_tables)}"

    def key(part: str) -> str | None:
        return f"{tag}:{part}" if cache else None

    t, temps = _inputs(
        eng,
        inp,
        kind=kind,
        period=period,
        penetrate=penetrate,
        from_cube_tables=from_cube_tables,
        key=key,
    )

    def build() -> ir.Table:
        keep = tuple(answer_mod.needed_columns(kind, [*dims, *flt]))

        facts = cube.period_facts(
            t["ents"],
            t["yearly"],
            kind=kind,
            start_ym=period.start_ym,
            end_ym=period.end_ym,
            keep=keep,
            measures=t["measures"],
        )

        rows_all = cube.enterprise_rows(
            t["groups"],
            facts,
            t["regions"],
            kind=kind,
            levels=(group_level, total_level),
            penetrate=penetrate,
            include_persons=include_persons,
        )

        def one(level: int, d: list[str]) -> ir.Table:
            rows = rows_all.filter(rows_all.level == level)
            cols = answer_mod.needed_columns(kind, [*d, *flt])
            sums = {m: rows[m].sum() for m in ("n", "new", "inv", "tax", "rev", "emp")}
            agg = rows.group_by(cols).aggregate(**sums) if cols else rows.aggregate(**sums)
            return answer_mod.finish(agg, lk, kind=kind, period=period, dims=d, filters=flt)

        g = one(group_level, dims).mutate(_total=ibis.literal(False))
        tot = one(total_level, []).mutate(_total=ibis.literal(True))
        tot = tot.mutate(**{c: ibis.null("string") for c in g.columns if c not in tot.columns})
        return ibis.union(g, tot.select(*g.columns))

    k = None
    if cache and not flt:
        k = key(f"answer:{group_level}:{total_level}:{','.join(dims)}:{int(include_persons)}")
    rows = eng.rows(build, key=k)
    for tt in temps:
        eng.drop(tt)
    groups = [r for r in rows if not r["_total"]]
    total = [r for r in rows if r["_total"]]
    return groups, total
