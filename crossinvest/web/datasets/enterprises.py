"""Enterprise datasets: search and the ownership chain (the list is in ``enterprise_list``).

All of them keep to the actor's scope (``ctx.scope.sql`` on the enterprise's
division). Lists page by key: the cursor is the last ``enterprise_key`` seen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crossinvest.access.gate import ReadContext, dataset
from crossinvest.analytics.tables import origin_rows, origin_rows_params
from crossinvest.warehouse import name_index
from crossinvest.warehouse.connection import fetch_dicts
from crossinvest.warehouse.lookups import fetch_by_keys
from crossinvest.web.envelope import not_found

MAX_DEPTH = 10  # definitions.md: a path stops after 10 levels


SEARCH_COLUMNS = """enterprise_key, uscc, name, region_code, industry_code, industry_section,
    strftime(established_on, '%Y-%m-%d') AS established_on, registered_capital_wan, status"""


@dataset("search", guard="enterprise")
def search(ctx: ReadContext, *, q: str, cursor: str | None = None, limit: int = 50) -> dict:
    """Enterprises whose name contains ``q`` (any case) or whose USCC / registration number starts with it.

    Answered from the name index (``warehouse.name_index``) when it can; else by
    reading every current name (0.4-0.6 s at 10M names).
    """
    q = q.strip()
    if not q:
        return {"rows": [], "next": None}
    scope_sql, scope_params = ctx.scope.sql("region_code")
    rows = name_index.search(
        ctx.con,
        q,
        columns=SEARCH_COLUMNS,
        where=scope_sql,
        params=scope_params,
        cursor=cursor,
        limit=limit,
    )
    if rows is None:
        match, params = name_index.match_sql(q)
        where = [match, scope_sql]
        params += scope_params
        if cursor is not None:
            where.append("enterprise_key > ?")
            params.append(cursor)
        rows = fetch_dicts(
            ctx.con,
            f"SELECT {SEARCH_COLUMNS} FROM registry WHERE {' AND '.join(where)} "
            "ORDER BY enterprise_key LIMIT ?",
            [*params, limit + 1],
        )
    nxt = None
    if len(rows) > limit:
        rows = rows[:limit]
        nxt = rows[-1]["enterprise_key"]
    return {"rows": rows, "next": nxt}


def _current_in_scope(ctx: ReadContext, keys: list[str], columns: str) -> list[dict[str, Any]]:
    """The current registry rows of ``keys`` that the actor's scope lets it see."""
    scope_sql, scope_params = ctx.scope.sql("region_code")
    return fetch_by_keys(
        ctx.con,
        "registry_rows",
        "enterprise_key",
        keys,
        columns=f"{columns}, region_code, is_current",
        where=f"is_current AND {scope_sql}",
        params=scope_params,
    )


def in_scope(ctx: ReadContext, key: str) -> dict[str, Any]:
    """The current registry row of enterprise ``key`` (its key or USCC) if the actor may see it.

    A valid USCC is the enterprise's key, so one indexed lookup answers both.
    """
    row = _current_in_scope(ctx, [key], "enterprise_key, uscc, name")
    if not row:
        raise not_found(f"未找到企业「{key}」", f"enterprise {key!r} not found")
    row[0].pop("is_current")
    return row[0]


def paths_up(
    con: Any, root: str, expand: Callable[[set[str]], set[str]] | None = None
) -> list[dict[str, Any]]:
    """Every ownership path upward from ``root``, one row per (path, last step).

    ``expand``, given the investor enterprises a level reached, returns those whose
    own investors may be walked (an actor's scope); the others end their paths.

    Walked level by level: each level reads the holdings of the previous
    level's investors from ``investor_origins`` (the current shareholder rows),
    skipping row groups by the stored hash of the enterprise (``origin_rows``).
    A recursive CTE joined to all holdings builds a hash table of every holding
    on each step, which at 25M holdings exceeds the memory budget; and the
    shareholders' own index does not fit the budget at that size, so each level
    was a scan of 27M rows (2.3 s a chain at 10M enterprises).
    """
    out: list[dict[str, Any]] = []
    frontier: list[dict[str, Any]] = [{"investor_key": root, "eff": 1.0, "path": (root,)}]
    for depth in range(1, MAX_DEPTH + 1):
        keys = sorted({p["investor_key"] for p in frontier})
        if not keys:
            break
        holdings: dict[str, list[dict[str, Any]]] = {}
        for h in fetch_dicts(
            con,
            origin_rows(
                len(keys), "enterprise_uscc, investor_key, investor_name, is_person, share_ratio"
            ),
            origin_rows_params(keys),
        ):
            holdings.setdefault(h["enterprise_uscc"], []).append(h)
        nxt = []
        for p in frontier:
            for h in holdings.get(p["investor_key"], []):
                if h["investor_key"] in p["path"]:  # a path never visits an enterprise twice
                    continue
                ratio = h["share_ratio"]
                step = {
                    "child": h["enterprise_uscc"],
                    "investor_key": h["investor_key"],
                    "investor_name": h["investor_name"],
                    "is_person": h["is_person"],
                    "ratio": ratio,
                    "eff": None if p["eff"] is None or ratio is None else p["eff"] * ratio,
                    "depth": depth,
                    "path": (*p["path"], h["investor_key"]),
                }
                out.append(step)
                if not h["is_person"]:
                    nxt.append(step)
        if expand is not None and nxt:
            allowed = expand({p["investor_key"] for p in nxt})
            nxt = [p for p in nxt if p["investor_key"] in allowed]
        frontier = nxt
    companies = sorted({p["investor_key"] for p in out if not p["is_person"]})
    # A registered USCC is its enterprise's key: the indexed key finds it.
    found = {
        r["uscc"]: r
        for r in fetch_by_keys(
            con,
            "registry_rows",
            "enterprise_key",
            companies,
            columns="uscc, region_code, name, is_current",
            where="is_current AND uscc IS NOT NULL",
        )
    }
    for p in out:
        r = found.get(p["investor_key"])
        p["registry_region"] = r["region_code"] if r else None
        p["registry_name"] = r["name"] if r else None
        p["in_registry"] = r is not None
    out.sort(key=lambda p: (p["depth"], p["investor_key"] or ""))
    return out


def _scoped(ctx: ReadContext) -> Callable[[set[str]], set[str]]:
    """The enterprises among some keys that the actor's scope lets it see.

    A district user sees the investors of its own enterprises (as in their
    profiles), not who owns an investor registered elsewhere.
    """

    def allowed(keys: set[str]) -> set[str]:
        rows = _current_in_scope(ctx, sorted(keys), "enterprise_key")
        return {r["enterprise_key"] for r in rows}

    return allowed


@dataset("chain", guard="enterprise")
def chain(ctx: ReadContext, *, key: str) -> dict:
    """Ownership upward from one enterprise as a graph with effective shares.

    Paths go up through investors that are enterprises in the registry (never
    visiting one twice, at most 10 levels), as in definitions.md's penetration;
    every node carries the sum over its paths of the product of share ratios.
    """
    ent = in_scope(ctx, key)
    root = ent["uscc"] or ent["enterprise_key"]
    paths = paths_up(ctx.con, root, None if ctx.scope.unrestricted else _scoped(ctx))
    nodes: dict[str, dict[str, Any]] = {
        root: {
            "id": root,
            "name": ent["name"],
            "region_code": ent["region_code"],
            "depth": 0,
            "effective_share": 1.0,
            "is_person": False,
            "in_registry": True,
        }
    }
    edges: dict[tuple[str, str], dict[str, Any]] = {}
    for p in paths:
        # Persons are shown by name only: their key is a hash of an ID number.
        nid = f"person:{p['child']}:{p['investor_name']}" if p["is_person"] else p["investor_key"]
        node = nodes.setdefault(
            nid,
            {
                "id": nid,
                "name": p["registry_name"] or p["investor_name"],
                "region_code": p["registry_region"],
                "depth": p["depth"],
                "effective_share": 0.0,
                "is_person": bool(p["is_person"]),
                "in_registry": bool(p["in_registry"]),
            },
        )
        node["depth"] = min(node["depth"], p["depth"])
        if p["eff"] is not None:
            node["effective_share"] += p["eff"]
        edges.setdefault(
            (nid, p["child"]), {"source": nid, "target": p["child"], "share_ratio": p["ratio"]}
        )
    return {"root": root, "nodes": list(nodes.values()), "edges": list(edges.values())}
