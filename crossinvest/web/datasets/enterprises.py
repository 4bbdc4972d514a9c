"""Enterprise datasets: search, the qualifying list behind a figure, profile, ownership chain.

All of them keep to the actor's scope (``ctx.scope.sql`` on the enterprise's
division). Lists page by key: the cursor is the last ``enterprise_key`` seen.
"""

from __future__ import annotations

from typing import Any

from crossinvest.access.disclosure import ENTERPRISE_MONEY
from crossinvest.access.gate import ReadContext, dataset
from crossinvest.analytics.periods import PeriodError, parse_period
from crossinvest.warehouse.connection import fetch_dicts
from crossinvest.web.envelope import bad_request, not_found

MAX_DEPTH = 10  # definitions.md: a path stops after 10 levels


@dataset("search", guard="enterprise")
def search(ctx: ReadContext, *, q: str, cursor: str | None = None, limit: int = 50) -> dict:
    """Enterprises whose name contains ``q`` or whose USCC / registration number starts with it."""
    q = q.strip()
    if not q:
        return {"rows": [], "next": None}
    scope_sql, scope_params = ctx.scope.sql("region_code")
    where = [
        "(name ILIKE ? OR uscc LIKE ? OR reg_no LIKE ?)",
        scope_sql,
    ]
    like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    params: list[Any] = [like, q.upper() + "%", q + "%", *scope_params]
    if cursor is not None:
        where.append("enterprise_key > ?")
        params.append(cursor)
    rows = fetch_dicts(
        ctx.con,
        f"""
        SELECT enterprise_key, uscc, name, region_code, industry_code, industry_section,
               strftime(established_on, '%Y-%m-%d') AS established_on, registered_capital_wan, status
        FROM registry WHERE {" AND ".join(where)}
        ORDER BY enterprise_key LIMIT ?
        """,
        [*params, limit + 1],
    )
    nxt = None
    if len(rows) > limit:
        rows = rows[:limit]
        nxt = rows[-1]["enterprise_key"]
    return {"rows": rows, "next": nxt}


# Which lookup column a filter reads: origin side (an_groups' origin) or enterprise side.
_ORIGIN_COL = {
    "origin_province": "o.province_code",
    "origin_prefecture": "o.prefecture_code",
    "district": "o.district_code",
}
_ENTERPRISE_COL = {
    "district": "er.district_code",
    "dest_province": "er.province_code",
    "dest_prefecture": "er.prefecture_code",
    "industry_division": "e.division",
    "industry_section": "COALESCE(e.section, dv.section)",
    "support_region": "sp.support_code",
}


@dataset("enterprise_list", guard="enterprise")
def enterprise_list(
    ctx: ReadContext,
    *,
    kind: str,
    period: str,
    filters: dict[str, list[str]] | None = None,
    penetrate: bool = False,
    include_persons: bool = False,
    cursor: str | None = None,
    limit: int = 50,
) -> dict:
    """The qualifying enterprises behind a figure (the drill-down's last level).

    Read from the statistics layer's materialised tables with the rules of
    ``analytics.answer`` (active at the reference date, the variant's qualifying
    investors, origin and enterprise filters); a test checks that the list has
    exactly as many enterprises as the figure it explains.
    """
    from crossinvest.analytics.dims import is_origin_dim

    try:
        p = parse_period(period)
    except PeriodError as e:
        raise bad_request(str(e), "invalid period") from e
    flt = ctx.stats_filters(filters or None) or {}
    origin_where, ent_where, params_o, params_e = ["TRUE"], ["TRUE"], [], []
    for dim, values in flt.items():
        holes = ", ".join("?" for _ in values) or "NULL"
        if is_origin_dim(kind, dim):
            origin_where.append(f"{_ORIGIN_COL[dim]} IN ({holes})")
            params_o += values
        else:
            ent_where.append(f"{_ENTERPRISE_COL[dim]} IN ({holes})")
            params_e += values
    if cursor is not None:
        ent_where.append("e.enterprise_key > ?")
        params_e.append(cursor)
    ref = p.reference_date
    groups_where = f"g.kind = ? AND g.penetrate = ? AND (? OR NOT g.via_person) AND {' AND '.join(origin_where)}"
    groups_params = [kind, penetrate, include_persons, *params_o]
    # The page's keys are chosen first (qualifying, in scope, ordered, limited); the
    # costly parts -- origins, monthly tax, revenue, the register -- are then read for
    # those keys only. Computing them for every qualifying enterprise before the
    # LIMIT took seconds at 10M enterprises.
    sql = f"""
        WITH dv AS (
            SELECT division_code, any_value(section) AS section FROM an_industry_lookup
            WHERE division_code IS NOT NULL GROUP BY 1
        ),
        page AS (
            SELECT e.enterprise_key, e.region_code, e.section, e.division
            FROM an_enterprises e
            LEFT JOIN an_region_lookup er ON er.code = e.region_code
            LEFT JOIN dv ON dv.division_code = e.division
            LEFT JOIN (SELECT code, any_value(support_code) AS support_code FROM an_support_lookup
                       WHERE (valid_from IS NULL OR valid_from <= ?) AND (valid_to IS NULL OR valid_to >= ?)
                       GROUP BY 1) sp ON sp.code = e.region_code
            WHERE e.side = ? AND e.est_ym <= ? AND e.end_ym > ? AND {" AND ".join(ent_where)}
              AND e.enterprise_key IN (
                  SELECT g.enterprise_key FROM an_groups g
                  LEFT JOIN an_region_lookup o ON o.code = g.origin_code WHERE {groups_where})
            ORDER BY e.enterprise_key LIMIT ?
        ),
        g AS (
            SELECT g.enterprise_key, sum(g.investment_wan) AS investment_wan,
                   string_agg(DISTINCT COALESCE(o.province_name, '未知'), '、') AS origins
            FROM an_groups g LEFT JOIN an_region_lookup o ON o.code = g.origin_code
            WHERE g.enterprise_key IN (SELECT enterprise_key FROM page) AND {groups_where}
            GROUP BY g.enterprise_key
        )
        SELECT e.enterprise_key, r.uscc, r.name, e.region_code,
               COALESCE(er.district_name, er.prefecture_name, er.name) AS region_name,
               COALESCE(e.section, dv.section) AS industry_section, sc.section_name AS industry_section_name,
               strftime(r.established_on, '%Y-%m-%d') AS established_on, g.origins, g.investment_wan,
               t.tax_wan, st.revenue_wan, st.employees
        FROM page e JOIN g USING (enterprise_key)
        LEFT JOIN an_region_lookup er ON er.code = e.region_code
        LEFT JOIN dv ON dv.division_code = e.division
        LEFT JOIN (SELECT section, any_value(section_name) AS section_name FROM an_industry_lookup
                   WHERE division_code IS NULL GROUP BY 1) sc ON sc.section = COALESCE(e.section, dv.section)
        LEFT JOIN (SELECT enterprise_key, sum(v) AS tax_wan
                   FROM (UNPIVOT (SELECT enterprise_key, year, t01, t02, t03, t04, t05, t06, t07, t08, t09,
                                         t10, t11, t12 FROM an_yearly
                                  WHERE enterprise_key IN (SELECT enterprise_key FROM page))
                         ON t01, t02, t03, t04, t05, t06, t07, t08, t09, t10, t11, t12 INTO NAME m VALUE v)
                   WHERE year * 100 + CAST(substr(m, 2) AS INTEGER) BETWEEN ? AND ?
                   GROUP BY 1) t ON t.enterprise_key = e.enterprise_key
        LEFT JOIN an_yearly st ON st.enterprise_key = e.enterprise_key AND st.year = ?
        LEFT JOIN registry r ON r.enterprise_key = e.enterprise_key
              AND r.enterprise_key IN (SELECT enterprise_key FROM page)
        ORDER BY e.enterprise_key
    """
    params = [
        ref,
        ref,
        "in" if kind == "inbound" else "out",
        p.end_ym,
        p.end_ym,
        *params_e,
        *groups_params,
        limit + 1,
        *groups_params,
        p.start_ym,
        p.end_ym,
        p.year,
    ]
    rows = fetch_dicts(ctx.con, sql, params)
    nxt = None
    if len(rows) > limit:
        rows = rows[:limit]
        nxt = rows[-1]["enterprise_key"]
    if not ctx.sees_enterprise_money:
        # A list row is one enterprise: its tax and revenue are confidential.
        rows = [{k: v for k, v in r.items() if k not in ENTERPRISE_MONEY} for r in rows]
    return {"rows": rows, "next": nxt}


def in_scope(ctx: ReadContext, key: str) -> dict[str, Any]:
    scope_sql, scope_params = ctx.scope.sql("region_code")
    row = fetch_dicts(
        ctx.con,
        f"SELECT enterprise_key, uscc, name, region_code FROM registry "
        f"WHERE (enterprise_key = ? OR uscc = ?) AND {scope_sql} LIMIT 1",
        [key, key, *scope_params],
    )
    if not row:
        raise not_found(f"未找到企业「{key}」", f"enterprise {key!r} not found")
    return row[0]


def _in_list(column: str, values: list[str]) -> str:
    return f"{column} IN ({', '.join('?' for _ in values)})"


def paths_up(con: Any, root: str) -> list[dict[str, Any]]:
    """Every ownership path upward from ``root``, one row per (path, last step).

    Walked level by level: each level is one filtered scan of the current
    holdings (``enterprise_uscc IN`` the previous level's investors). A
    recursive CTE joined to all holdings builds a hash table of every holding
    on each step, which at 25M holdings exceeds the memory budget.
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
            "SELECT enterprise_uscc, investor_key, investor_name, is_person, share_ratio "
            f"FROM shareholders WHERE {_in_list('enterprise_uscc', keys)}",
            keys,
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
        frontier = nxt
    companies = sorted({p["investor_key"] for p in out if not p["is_person"]})
    found = (
        {
            r["uscc"]: r
            for r in fetch_dicts(
                con,
                f"SELECT uscc, region_code, name FROM registry WHERE {_in_list('uscc', companies)}",
                companies,
            )
        }
        if companies
        else {}
    )
    for p in out:
        r = found.get(p["investor_key"])
        p["registry_region"] = r["region_code"] if r else None
        p["registry_name"] = r["name"] if r else None
        p["in_registry"] = r is not None
    out.sort(key=lambda p: (p["depth"], p["investor_key"] or ""))
    return out


@dataset("chain", guard="enterprise")
def chain(ctx: ReadContext, *, key: str) -> dict:
    """Ownership upward from one enterprise as a graph with effective shares.

    Paths go up through investors that are enterprises in the registry (never
    visiting one twice, at most 10 levels), as in definitions.md's penetration;
    every node carries the sum over its paths of the product of share ratios.
    """
    ent = in_scope(ctx, key)
    root = ent["uscc"] or ent["enterprise_key"]
    paths = paths_up(ctx.con, root)
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
