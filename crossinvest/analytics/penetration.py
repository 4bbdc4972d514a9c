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

from crossinvest.analytics.engine import Engine

MAX_LEVELS = 10


def enumerate_paths(
    engine: Engine,
    terms: ir.Table,
    edges: ir.Table,
    starts: ir.Table,
    tag: str = "p",
    cache: bool = True,
) -> ir.Table:
    """Paths from each start (column ``start_key``), aggregated per (start, origin, person?).

    ``terms``: (enterprise_key, origin_code, via_person, share) — where paths end
    and count. ``edges``: (child_key, parent_key, share) — where they continue.
    Returns (start_key, origin_code, via_person, share9, share10, n9, n10);
    ``n*`` count the path-ends found (a row exists only if a path does).
    ``tag`` names the intermediate tables and, with ``cache``, their cached SQL:
    then the same tag must always mean the same inputs (deterministic names).
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
    g = edges.select(k=edges.parent_key).distinct()
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
    return out


def combine(
    terms: ir.Table, edges: ir.Table, start_res: ir.Table, targets: ir.Table | None = None
) -> ir.Table:
    """Penetrated (enterprise_key, origin_code, via_person, share) for every target.

    Enterprises in G take their own enumeration (``share10``); the others their
    counted investors plus each edge times the parent's ``share9``.
    """
    g = edges.select(k=edges.parent_key).distinct()
    t = terms
    e = edges
    if targets is not None:
        t = t.filter(t.enterprise_key.isin(targets.enterprise_key))
        e = e.filter(e.child_key.isin(targets.enterprise_key))
    own = start_res.filter(start_res.n10 > 0)
    if targets is not None:
        own = own.filter(own.start_key.isin(targets.enterprise_key))
    own = own.filter(own.start_key.isin(g.k)).select(
        enterprise_key=own.start_key,
        origin_code=own.origin_code,
        via_person=own.via_person,
        share=own.share10,
    )
    direct = t.filter(~t.enterprise_key.isin(g.k)).select(
        "enterprise_key", "origin_code", "via_person", "share"
    )
    e = e.filter(~e.child_key.isin(g.k))
    # Most enterprises have no edge to continue through: their result is their own
    # counted investors, already one row per origin — no aggregation needed.
    has_edge = e.select(c=e.child_key).distinct()
    simple = direct.filter(~direct.enterprise_key.isin(has_edge.c))
    direct = direct.filter(direct.enterprise_key.isin(has_edge.c))
    s9 = start_res.filter(start_res.n9 > 0)
    via = e.join(s9, e.parent_key == s9.start_key)
    via = via.select(
        enterprise_key=via.child_key,
        origin_code=via.origin_code,
        via_person=via.via_person,
        share=via.share * via.share9,
    )
    allr = ibis.union(own, direct, via)
    grouped = allr.group_by("enterprise_key", "origin_code", "via_person").aggregate(
        share=allr.share.sum()
    )
    return ibis.union(simple, grouped)


def pen_groups(pen: ir.Table, ents: ir.Table, kind: str) -> ir.Table:
    """Penetrated groups in the shape of ``an_groups``: investment = registered capital × share."""
    side = "in" if kind == "inbound" else "out"
    e = ents.filter(ents.side == side).select("enterprise_key", "registered_capital_wan")
    j = pen.join(e, "enterprise_key")
    return j.select(
        kind=ibis.literal(kind),
        enterprise_key=j.enterprise_key,
        origin_code=j.origin_code,
        via_person=j.via_person,
        penetrate=ibis.literal(True),
        investment_wan=j.registered_capital_wan * j.share,
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
    pen = engine.materialize(
        lambda: combine(terms, e, start_res), f"_an_live_pen_{side}", key=key("pen")
    )
    out = engine.materialize(
        lambda: pen_groups(pen, ents, kind), f"_an_live_pg_{side}", key=key("pg")
    )
    engine.drop(pen)
    engine.drop(e)
    return out, start_res
