"""Ownership penetration (穿透) by iterative path expansion, set-based, on any engine.

A path climbs from an enterprise E through its investors. It **continues**
through an investor that is a Shanghai-registered enterprise in the registry
whose origin is Shanghai (an edge of ``model.pen_edges``), and **ends** at an
investor counted for E's kind (a row of ``model.direct_groups``: for inbound, an
origin elsewhere in China), where it counts for that origin. Shares multiply
along the path; a path never visits an enterprise twice (its visited list is
kept per path) and stops after 10 levels. Outbound uses the mirror image
(continuing through registry enterprises elsewhere, ending at Shanghai).

Work is kept small by splitting the enterprises in two:

- G, the enterprises a path can continue through (parents of an edge). Paths are
  enumerated explicitly, level by level, from every start S in G, each level one
  join of the frontier with the edges, materialised (DuckDB temp table / Spark
  checkpoint). Per S and origin this gives the share of paths within 9 levels
  (``share9``, for when S is reached from a child) and within 10 (``share10``).
- every other E: it cannot lie on anyone's path, so no cycle can pass through
  it, and its result is its counted investors plus, for each edge E -> N,
  ``share(E, N) × share9(N, ·)``: one join, no enumeration.

A path whose share is unknown (no ratio, no capital to derive it) still exists:
it makes E inbound, and contributes 0 to the investment.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from crossinvest.analytics.engine import Engine, ExprLike

MAX_LEVELS = 10


def enumerate_paths(
    engine: Engine,
    terms: ir.Table,
    edges: ir.Table,
    starts: ir.Table,
    tag: str = "p",
    cache: bool = True,
    parents: ir.Table | None = None,
) -> ir.Table:
    """Paths from each start (column ``start_key``), aggregated per (start, origin, person?).

    ``terms``: (enterprise_key, origin_code, via_person, share) — where paths end
    and count. ``edges``: (child_key, parent_key, share) — where they continue.
    Returns (start_key, origin_code, via_person, share9, share10, n9, n10);
    ``n*`` count the path-ends found (a row exists only if a path does).
    ``tag`` names the intermediate tables and, with ``cache``, their cached SQL:
    then the same tag must always mean the same inputs (deterministic names).
    ``parents``: the distinct ``parent_key`` of ``edges`` (column ``k``) when the
    caller has stored them (G, see below); the caller drops it.
    """
    name = f"_an_pen_{tag}"

    def key(part: str) -> str | None:
        return f"pen:{tag}:{part}" if cache else None

    frontier = engine.materialize(
        lambda: starts.select(
            start_key=starts.start_key,
            node=starts.start_key,
            psh=ibis.literal(1.0, "float64"),
            visited=ibis.array([starts.start_key]),
        ),
        f"{name}_f1",
        key=key("f1"),
    )
    # Only nodes in G are ever on a frontier: shrink both inputs once.
    g = parents if parents is not None else engine_parents(engine, edges, f"{name}_gs", key("gs"))
    t_g = engine.materialize(
        lambda: terms.filter(
            terms.enterprise_key.isin(g.k) | terms.enterprise_key.isin(starts.start_key)
        ),
        f"{name}_t",
        key=key("t"),
    )
    e_g = engine.materialize(
        lambda: edges.filter(edges.child_key.isin(g.k) | edges.child_key.isin(starts.start_key)),
        f"{name}_e",
        key=key("e"),
    )
    found: list[ir.Table] = []
    for depth in range(1, MAX_LEVELS + 1):

        def hit_expr(frontier=frontier, depth=depth):
            hit = frontier.join(t_g, frontier.node == t_g.enterprise_key)
            return hit.select(
                start_key=hit.start_key,
                origin_code=hit.origin_code,
                via_person=hit.via_person,
                share=hit.psh * hit.share,
                depth=ibis.literal(depth, "int8"),
            )

        found.append(engine.materialize(hit_expr, f"{name}_h{depth}", key=key(f"h{depth}")))
        if depth == MAX_LEVELS:
            break

        def step_expr(frontier=frontier):
            step = frontier.join(e_g, frontier.node == e_g.child_key)
            step = step.filter(~step.visited.contains(step.parent_key))
            return step.select(
                start_key=step.start_key,
                node=step.parent_key,
                psh=step.psh * step.share,
                visited=step.visited.concat(ibis.array([step.parent_key])),
            )

        nxt = engine.materialize(step_expr, f"{name}_f{depth + 1}", key=key(f"f{depth + 1}"))
        engine.drop(frontier)
        frontier = nxt
        if engine.count(frontier) == 0:
            break
    engine.drop(frontier)

    def res_expr():
        allf = ibis.union(*found) if len(found) > 1 else found[0]
        within9 = allf.depth <= MAX_LEVELS - 1
        return allf.group_by("start_key", "origin_code", "via_person").aggregate(
            share9=ibis.ifelse(within9, allf.share, None).sum(),
            share10=allf.share.sum(),
            n9=ibis.ifelse(within9, 1, 0).sum().cast("int64"),
            n10=allf.count(),
        )

    out = engine.materialize(res_expr, f"{name}_res", key=key(f"res{len(found)}"))
    for f in found:
        engine.drop(f)
    engine.drop(t_g)
    engine.drop(e_g)
    if parents is None:
        engine.drop(g)
    return out


def engine_parents(engine: Engine, edges: ir.Table, name: str, key: str | None) -> ir.Table:
    """G: the distinct parents of ``edges``, stored as ``name`` (column ``k``)."""
    return engine.materialize(lambda: edges.select(k=edges.parent_key).distinct(), name, key=key)


def pen_group_parts(
    engine: Engine,
    terms: ir.Table,
    edges: ir.Table,
    start_res: ir.Table,
    ents: ir.Table,
    kind: str,
    targets: ir.Table | None = None,
    tag: str = "p",
    cache: bool = True,
    parents: ir.Table | None = None,
) -> tuple[list[ExprLike], list[ir.Table]]:
    """Penetrated groups of every target (all when None), in the shape of ``an_groups``.

    Returns ``(parts, temps)``: the parts hold disjoint enterprises, together
    every penetrated group (investment = registered capital × share); drop the
    temps once the parts are stored. Enterprises in G take their own enumeration
    (``share10``); the others their counted investors plus each edge times the
    parent's ``share9``.

    Built as separate statements over small materialised inputs: one statement
    joining, grouping and pricing all ~27M rows (10M enterprises) spilled most of
    its work to disk. Only enterprises with an edge to continue through need a
    group-by; it runs on a compact integer id, not the 18-character key.
    ``tag``/``cache`` as for ``enumerate_paths``.
    """
    name = f"_an_pen_{tag}"

    def key(part: str) -> str | None:
        return f"pen:{tag}:{part}" if cache else None

    side = "in" if kind == "inbound" else "out"
    caps = ents.filter(ents.side == side).select("enterprise_key", "registered_capital_wan")
    g = parents if parents is not None else engine_parents(engine, edges, f"{name}_g", key("g"))

    def ids_expr() -> ir.Table:
        # Enterprises outside G with an edge: their rows are summed per origin.
        e = edges.filter(~edges.child_key.isin(g.k))
        if targets is not None:
            e = e.filter(e.child_key.isin(targets.enterprise_key))
        c = caps.filter(caps.enterprise_key.isin(e.child_key))
        return c.select(id=ibis.row_number(), c=c.enterprise_key, cap=c.registered_capital_wan)

    ids = engine.materialize(ids_expr, f"{name}_ids", key=key("ids"))

    def edge_ids_expr() -> ir.Table:
        # ids holds only children outside G (and among the targets): the join filters.
        j = edges.join(ids, edges.child_key == ids.c)
        return j.select("id", "parent_key", "share")

    # Stored first: joined in one statement with the parents' results, DuckDB
    # paired all edges with those before filtering by child (3x the rows).
    e_ids = engine.materialize(edge_ids_expr, f"{name}_eids", key=key("eids"))

    def plain_expr() -> ir.Table:
        # Without an edge (and outside G) the result is the enterprise's own
        # counted investors, already one row per origin; G takes its enumeration.
        t = terms
        own = start_res.filter(start_res.n10 > 0)
        if targets is not None:
            t = t.filter(t.enterprise_key.isin(targets.enterprise_key))
            own = own.filter(own.start_key.isin(targets.enterprise_key))
        simple = t.filter(~t.enterprise_key.isin(g.k) & ~t.enterprise_key.isin(ids.c)).select(
            "enterprise_key", "origin_code", "via_person", "share"
        )
        own = own.filter(own.start_key.isin(g.k)).select(
            enterprise_key=own.start_key,
            origin_code=own.origin_code,
            via_person=own.via_person,
            share=own.share10,
        )
        rows = ibis.union(simple, own)
        j = rows.join(caps, "enterprise_key")
        return _groups(kind, j.enterprise_key, j.registered_capital_wan, j)

    def summed_expr() -> ir.Table:
        s9 = start_res.filter(start_res.n9 > 0)
        via = e_ids.join(s9, e_ids.parent_key == s9.start_key)
        via = via.select(
            id=via.id,
            origin_code=via.origin_code,
            via_person=via.via_person,
            share=via.share * via.share9,
        )
        own = terms.join(ids, terms.enterprise_key == ids.c).select(
            "id", "origin_code", "via_person", "share"
        )
        allr = ibis.union(via, own)
        summed = allr.group_by("id", "origin_code", "via_person").aggregate(share=allr.share.sum())
        j = summed.join(ids, "id")
        return _groups(kind, j.c, j.cap, j)

    return [plain_expr, summed_expr], ([] if parents is not None else [g]) + [ids, e_ids]


def _groups(kind: str, key: ir.Column, cap: ir.Column, j: ir.Table) -> ir.Table:
    """Rows of ``an_groups`` (penetrated) from ``j``'s origin, person flag and share."""
    return j.select(
        kind=ibis.literal(kind),
        enterprise_key=key,
        origin_code=j.origin_code,
        via_person=j.via_person,
        penetrate=ibis.literal(True),
        investment_wan=cap * j.share,
        share=j.share,
    )


def penetrate_live(
    engine: Engine,
    groups_direct: ir.Table,
    edges: ir.Table,
    ents: ir.Table,
    kind: str,
    cache: bool = False,
) -> tuple[ir.Table, ir.Table]:
    """All of one kind's penetrated groups, from scratch (live answers).

    With ``cache`` the inputs must be deterministic names (their SQL is cached).
    """
    side = "in" if kind == "inbound" else "out"

    def key(part: str) -> str | None:
        return f"live_pen:{side}:{part}" if cache else None

    terms = groups_direct.filter((groups_direct.kind == kind) & ~groups_direct.penetrate).select(
        "enterprise_key", "origin_code", "via_person", "share"
    )
    e = engine.materialize(
        lambda: edges.filter(edges.side == side).select("child_key", "parent_key", "share"),
        f"_an_live_edges_{side}",
        key=key("edges"),
    )
    starts = e.select(start_key=e.parent_key).distinct()
    start_res = enumerate_paths(engine, terms, e, starts, tag=f"live_{side}", cache=cache)
    parts, temps = pen_group_parts(
        engine, terms, e, start_res, ents, kind, tag=f"live_{side}", cache=cache
    )
    out = engine.materialize(
        lambda: ibis.union(*(p() for p in parts)), f"_an_live_pg_{side}", key=key("pg")
    )
    for t in temps:
        engine.drop(t)
    engine.drop(e)
    return out, start_res
