"""The qualifying enterprises behind a figure: the drill-down's last level.

Read from the statistics layer's materialised tables with the rules of
``analytics.answer``: active at the reference date, the variant's qualifying
investors, origin and enterprise filters. Pages go by key (the cursor is the
last ``enterprise_key`` seen).

At 10M enterprises the qualifying set is millions of keys, and a page needs
only the first 51 of them. The page is therefore found in rounds, each reading a
bounded number of candidates in key order from the side the filters narrow:

- an origin filter: candidates from ``an_groups``, whose direct rows are stored
  by kind and origin (an origin's rows are a few row groups; the penetrated rows
  are not sorted, so a penetrated list scans them all), checked against
  ``an_enterprises`` by index;
- otherwise: candidates from ``an_enterprises``, stored by key (DuckDB's top-N
  filter then skips all but the first row groups; a district filter matches a
  key prefix), checked against ``an_groups_by_key``, the same rows stored by
  key: a page's keys are a row group or two of it.

A round that fills the page ends it; the next round takes four times as many
candidates. When both sides are filtered, or a few rounds have not filled the
page (the two sides meet rarely), one query joins the two filtered sides
instead. The page's columns are
then read for its keys only.
"""

from __future__ import annotations

from typing import Any

from crossinvest.access.disclosure import ENTERPRISE_MONEY
from crossinvest.access.gate import ReadContext, dataset
from crossinvest.analytics.periods import Period, PeriodError, parse_period
from crossinvest.warehouse.connection import fetch_dicts
from crossinvest.warehouse.lookups import by_key_range, by_keys, key_range_params
from crossinvest.web.envelope import ApiError, bad_request

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
_FIRST_ROUND = 64
_ROUNDS = 3

# The enterprise side's lookups, for a FROM clause whose enterprises are ``e``.
_ENTERPRISE_JOINS = """
    LEFT JOIN an_region_lookup er ON er.code = e.region_code
    LEFT JOIN (SELECT division_code, any_value(section) AS section FROM an_industry_lookup
               WHERE division_code IS NOT NULL GROUP BY 1) dv ON dv.division_code = e.division
    LEFT JOIN (SELECT code, any_value(support_code) AS support_code FROM an_support_lookup
               WHERE (valid_from IS NULL OR valid_from <= ?) AND (valid_to IS NULL OR valid_to >= ?)
               GROUP BY 1) sp ON sp.code = e.region_code
"""


class _Filters:
    """The list's filters as SQL: on the groups (alias g, origin o) and on the enterprises (e)."""

    def __init__(
        self, kind: str, p: Period, flt: dict[str, list[str]], penetrate: bool, persons: bool
    ):
        from crossinvest.analytics.dims import is_origin_dim

        origin, ent, params_o, params_e = [], [], [], []
        for dim, values in flt.items():
            holes = ", ".join("?" for _ in values) or "NULL"
            if is_origin_dim(kind, dim):
                origin.append(f"{_ORIGIN_COL[dim]} IN ({holes})")
                params_o += values
            else:
                ent.append(f"{_ENTERPRISE_COL[dim]} IN ({holes})")
                params_e += values
        self.by_origin, self.by_enterprise = bool(origin), bool(ent)
        self.groups = " AND ".join(
            ["g.kind = ?", "g.penetrate = ?", "(? OR NOT g.via_person)", *origin]
        )
        self.groups_params: list[Any] = [kind, penetrate, persons, *params_o]
        ref = p.reference_date
        self.ent = " AND ".join(["e.side = ?", "e.est_ym <= ?", "e.end_ym > ?", *ent])
        # _ENTERPRISE_JOINS' two parameters come first.
        self.ent_params: list[Any] = [
            ref,
            ref,
            "in" if kind == "inbound" else "out",
            p.end_ym,
            p.end_ym,
            *params_e,
        ]


def _after(cursor: str | None, column: str) -> tuple[str, list[Any]]:
    return ("TRUE", []) if cursor is None else (f"{column} > ?", [cursor])


# A page's group columns: summed over an enterprise's group rows that pass the filters.
_SUMMED = """sum(investment_wan) AS investment_wan,
    list(DISTINCT origin ORDER BY origin) AS origins"""
_ORIGIN = "COALESCE(o.province_name, '未知') AS origin"


def _round_by_groups(
    con: Any, f: _Filters, after: str | None, size: int, sums: dict[str, dict[str, Any]]
) -> tuple[list[str], str | None]:
    """(qualifying keys among the next ``size`` candidates, the key to go on after or None).

    A key found among the group rows qualifies on the groups' side whether or not
    all its rows were read. The candidates are the group rows themselves, in key
    order, so every key but the last has all its rows among them: their sums go
    into ``sums`` and the page need not read those rows again (``_details``).
    """
    cur_sql, cur_params = _after(after, "g.enterprise_key")
    cand = fetch_dicts(
        con,
        f"""WITH c AS (
                SELECT g.enterprise_key, g.investment_wan, {_ORIGIN}
                FROM an_groups g LEFT JOIN an_region_lookup o ON o.code = g.origin_code
                WHERE {f.groups} AND {cur_sql} ORDER BY g.enterprise_key LIMIT ?)
            SELECT enterprise_key, count(*) AS n, {_SUMMED} FROM c GROUP BY 1 ORDER BY 1""",
        [*f.groups_params, *cur_params, size],
    )
    keys = [c["enterprise_key"] for c in cand]
    if not keys:
        return [], None
    more = sum(c["n"] for c in cand) == size  # the LIMIT cut: the last key may have more rows
    sums.update((c["enterprise_key"], c) for c in (cand[:-1] if more else cand))
    passing = fetch_dicts(
        con,
        f"""WITH e AS MATERIALIZED ({by_key_range("an_enterprises", "enterprise_key", len(keys))})
            SELECT e.enterprise_key FROM e {_ENTERPRISE_JOINS} WHERE {f.ent} ORDER BY 1""",
        [*key_range_params(keys), *f.ent_params],
    )
    return [r["enterprise_key"] for r in passing], keys[-1] if more else None


def _round_by_enterprises(
    con: Any, f: _Filters, after: str | None, size: int, sums: dict[str, dict[str, Any]]
) -> tuple[list[str], str | None]:
    cur_sql, cur_params = _after(after, "e.enterprise_key")
    cand = fetch_dicts(
        con,
        f"""SELECT e.enterprise_key FROM an_enterprises e {_ENTERPRISE_JOINS}
            WHERE {f.ent} AND {cur_sql} ORDER BY e.enterprise_key LIMIT ?""",
        [*f.ent_params, *cur_params, size],
    )
    keys = [c["enterprise_key"] for c in cand]
    if not keys:
        return [], None
    passing = fetch_dicts(
        con,
        f"""WITH g AS MATERIALIZED ({by_key_range("an_groups_by_key", "enterprise_key", len(keys))})
            SELECT DISTINCT g.enterprise_key FROM g LEFT JOIN an_region_lookup o ON o.code = g.origin_code
            WHERE {f.groups} ORDER BY 1""",
        [*key_range_params(keys), *f.groups_params],
    )
    return [r["enterprise_key"] for r in passing], keys[-1] if len(cand) == size else None


def _page_by_join(con: Any, f: _Filters, after: str | None, n: int) -> list[str]:
    """The next ``n`` qualifying keys in one query: both sides filtered, then joined."""
    cur_sql, cur_params = _after(after, "e.enterprise_key")
    cur_g, _ = _after(after, "g.enterprise_key")
    rows = fetch_dicts(
        con,
        f"""SELECT e.enterprise_key FROM an_enterprises e {_ENTERPRISE_JOINS}
            WHERE {f.ent} AND {cur_sql} AND e.enterprise_key IN (
                SELECT g.enterprise_key FROM an_groups g LEFT JOIN an_region_lookup o ON o.code = g.origin_code
                WHERE {f.groups} AND {cur_g})
            ORDER BY e.enterprise_key LIMIT ?""",
        [*f.ent_params, *cur_params, *f.groups_params, *cur_params, n],
    )
    return [r["enterprise_key"] for r in rows]


def page_keys(
    con: Any,
    f: _Filters,
    cursor: str | None,
    n: int,
    sums: dict[str, dict[str, Any]] | None = None,
) -> list[str]:
    """The first ``n`` qualifying enterprise keys after ``cursor``, in key order.

    ``sums`` receives the group columns of the keys whose rows were all read on the way.
    """
    sums = {} if sums is None else sums
    if f.by_origin and f.by_enterprise:
        # Both sides narrowed: their intersection can be rare, and each side alone is
        # small enough to join (at 10M: Tibet x 浦东 took 0.6 s in rounds, 0.16 s joined).
        return _page_by_join(con, f, cursor, n)
    round_ = _round_by_groups if f.by_origin else _round_by_enterprises
    keys: list[str] = []
    after, size = cursor, max(_FIRST_ROUND, 2 * n)
    for _ in range(_ROUNDS):
        found, last = round_(con, f, after, size, sums)
        keys += found
        if len(keys) >= n or last is None:
            return keys[:n]
        after, size = last, size * 4
    return keys + _page_by_join(con, f, after, n - len(keys))


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
    """One page of the qualifying enterprises behind a figure.

    A test checks that the list has exactly as many enterprises as the figure
    it explains, with every filter.
    """
    if kind == "outbound" and not ctx.scope.unrestricted:
        # The enterprises behind an outbound figure are registered in other provinces;
        # a district user sees enterprises of its own district(s) only (its figures
        # are scoped by the investing enterprise's district instead).
        raise ApiError(
            403,
            "forbidden",
            "区用户只能查看本区登记的企业，对外投资的被投资企业名单不在其范围内",
            "a district user sees its own district's enterprises only, "
            "not the invested enterprises behind an outbound figure",
        )
    try:
        p = parse_period(period)
    except PeriodError as e:
        raise bad_request(str(e), "invalid period") from e
    f = _Filters(kind, p, ctx.stats_filters(filters or None) or {}, penetrate, include_persons)
    sums: dict[str, dict[str, Any]] = {}
    keys = page_keys(ctx.con, f, cursor, limit + 1, sums)
    rows = _details(ctx.con, f, keys, p, sums) if keys else []
    nxt = None
    if len(rows) > limit:
        rows = rows[:limit]
        nxt = rows[-1]["enterprise_key"]
    if not ctx.sees_enterprise_money:
        # A list row is one enterprise: its tax and revenue are confidential.
        rows = [{k: v for k, v in r.items() if k not in ENTERPRISE_MONEY} for r in rows]
    return {"rows": rows, "next": nxt}


def _group_sums(con: Any, f: _Filters, keys: list[str]) -> dict[str, dict[str, Any]]:
    """``_SUMMED`` for ``keys``, read from their group rows."""
    # With an origin filter the filter itself finds the rows: the direct rows are
    # stored by kind and origin, so DuckDB reads the origin's few row groups.
    # Without one, from the copy stored by key (10 ms at 10M; an_groups read by
    # key scans 42M rows, 0.15-0.3 s, and its index is over the memory budget).
    if f.by_origin:
        holes = ", ".join("?" for _ in keys)
        rows = f"""SELECT g.*, {_ORIGIN} FROM an_groups g
            LEFT JOIN an_region_lookup o ON o.code = g.origin_code
            WHERE g.enterprise_key IN ({holes}) AND {f.groups}"""
        params = [*keys, *f.groups_params]
    else:
        rows = f"""WITH g AS MATERIALIZED ({by_key_range("an_groups_by_key", "enterprise_key", len(keys))})
            SELECT g.*, {_ORIGIN} FROM g LEFT JOIN an_region_lookup o ON o.code = g.origin_code
            WHERE {f.groups}"""
        params = [*key_range_params(keys), *f.groups_params]
    groups = fetch_dicts(con, f"SELECT enterprise_key, {_SUMMED} FROM ({rows}) GROUP BY 1", params)
    return {g["enterprise_key"]: g for g in groups}


def _details(
    con: Any,
    f: _Filters,
    keys: list[str],
    p: Period,
    sums: dict[str, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The list's columns for the page's enterprises, each table read by key.

    ``sums``: group columns already summed by ``page_keys``; only the other keys' group rows are read.
    """
    n = len(keys)
    by_key = {k: sums[k] for k in keys if sums and k in sums}
    missing = [k for k in keys if k not in by_key]
    if missing:
        by_key.update(_group_sums(con, f, missing))

    months = ", ".join(f"t{m:02d}" for m in range(1, 13))
    rows = fetch_dicts(
        con,
        f"""WITH e AS MATERIALIZED ({by_key_range("an_enterprises", "enterprise_key", n)}),
            y AS MATERIALIZED ({by_key_range("an_yearly", "enterprise_key", n)}),
            r AS MATERIALIZED ({
            by_keys(
                "registry_rows",
                "enterprise_key",
                n,
                "enterprise_key, uscc, name, established_on, is_current",
            )
        }),
            t AS (SELECT enterprise_key, sum(v) AS tax_wan
                  FROM (UNPIVOT (SELECT enterprise_key, year, {months} FROM y)
                        ON {months} INTO NAME m VALUE v)
                  WHERE year * 100 + CAST(substr(m, 2) AS INTEGER) BETWEEN ? AND ?
                  GROUP BY 1)
        SELECT e.enterprise_key, r.uscc, r.name, e.region_code,
               COALESCE(er.district_name, er.prefecture_name, er.name) AS region_name,
               COALESCE(e.section, dv.section) AS industry_section, sc.section_name AS industry_section_name,
               strftime(r.established_on, '%Y-%m-%d') AS established_on,
               t.tax_wan, st.revenue_wan, st.employees
        FROM e {_ENTERPRISE_JOINS}
        LEFT JOIN (SELECT section, any_value(section_name) AS section_name FROM an_industry_lookup
                   WHERE division_code IS NULL GROUP BY 1) sc ON sc.section = COALESCE(e.section, dv.section)
        LEFT JOIN t ON t.enterprise_key = e.enterprise_key
        LEFT JOIN y st ON st.enterprise_key = e.enterprise_key AND st.year = ?
        LEFT JOIN (SELECT * FROM r WHERE is_current) r ON r.enterprise_key = e.enterprise_key
        ORDER BY e.enterprise_key""",
        [
            *key_range_params(keys),
            *key_range_params(keys),
            *keys,
            p.start_ym,
            p.end_ym,
            *f.ent_params[:2],
            p.year,
        ],
    )
    out = []
    for row in rows:
        g = by_key[row["enterprise_key"]]
        out.append(
            {
                **{k: row[k] for k in list(row)[:8]},
                "origins": "、".join(g["origins"]),
                "investment_wan": g["investment_wan"],
                **{k: row[k] for k in ("tax_wan", "revenue_wan", "employees")},
            }
        )
    return out
