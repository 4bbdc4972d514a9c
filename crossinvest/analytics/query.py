"""Public API for statistics: what the CLI, the web pages and the HTTP API call.

>>> # from crossinvest.warehouse.connection import connect
>>> # with connect() as wh:
>>> #     r = stats(wh.con, "inbound", "2018", ["origin_province"])
>>> #     r.rows[0]["origin_province_name"], r.total["enterprises"]

Answers come from the materialised cube when the period lies inside its horizon
(the years the tax and statistics data cover) and otherwise are computed live by
the same Ibis expressions. ``filters`` restricts the figures to dimension values;
it is the one place a caller's scope is injected (a district user of the sharing
service: ``filters={"district": ["310115"]}``), see ``scoped_filters``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir

from crossinvest.analytics import answer as answer_mod
from crossinvest.analytics.dims import (
    DIMS,
    DimError,
    check_kind,
    is_origin_dim,
    origin_level,
    parse_dims,
)
from crossinvest.analytics.engine import DuckDBEngine, Engine
from crossinvest.analytics.live import live_answer
from crossinvest.analytics.periods import Period, parse_period
from crossinvest.analytics.sqlcache import cached_sql
from crossinvest.analytics.tables import get_state

Filters = Mapping[str, str | None | Sequence[str | None]]


@dataclass
class StatsResult:
    """One statistics table: group rows and the total row over distinct enterprises."""

    kind: str
    period: Period
    by: list[str]
    penetrate: bool
    include_persons: bool
    rows: list[dict[str, Any]]
    total: dict[str, Any]
    filters: dict[str, list[str | None]] = field(default_factory=dict)
    served_from: str = "cube"  # 'cube' (materialised) or 'live'

    @property
    def reference_date(self) -> str:
        return self.period.reference_date.isoformat()

    def as_json(self) -> dict[str, Any]:
        """The object ``crossinvest stats --format json`` prints (contract.md)."""
        return {
            "kind": self.kind,
            "period": self.period.label,
            "reference_date": self.reference_date,
            "by": list(self.by),
            "penetrate": self.penetrate,
            "rows": self.rows,
            "total": self.total,
        }


def normalize_filters(kind: str, filters: Filters | None) -> dict[str, list[str | None]]:
    """{dim: [codes]} with names checked; a single value may be given bare."""
    out: dict[str, list[str | None]] = {}
    for dim, value in (filters or {}).items():
        if dim not in DIMS:
            raise DimError(f"未知筛选维度「{dim}」：应为 {'、'.join(DIMS)} 之一")
        values = [value] if value is None or isinstance(value, str) else list(value)
        out[dim] = [None if v is None else str(v) for v in values]
    return out


def scoped_filters(
    filters: Filters | None, *, districts: Sequence[str] | None = None
) -> dict[str, Any]:
    """``filters`` narrowed to a caller's districts (the sharing service's district users).

    The district is the invested enterprise's for inbound and the Shanghai
    investor's for outbound (dims.py); an existing district filter is intersected.
    """
    out: dict[str, Any] = dict(filters or {})
    if districts is not None:
        wanted = list(districts)
        if "district" in out:
            have = out["district"]
            have = [have] if have is None or isinstance(have, str) else list(have)
            wanted = [d for d in wanted if d in have]
        out["district"] = wanted
    return out


def stats(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    period: str | Period,
    by: str | Sequence[str],
    penetrate: bool = False,
    include_persons: bool = False,
    filters: Filters | None = None,
    *,
    live: bool = False,
    engine: Engine | None = None,
    inputs: Any = None,
) -> StatsResult:
    """Figures of ``kind`` ('inbound'/'outbound') for ``period`` grouped by ``by``.

    ``live``: ignore the materialised tables and compute from the raw warehouse
    tables (a cold recompute). ``engine``/``inputs``: run live on another engine
    (Spark) over those tables instead of the warehouse. Raises ``PeriodError``/``DimError`` (Chinese
    messages) for a bad period, kind, dimension or filter.
    """
    check_kind(kind)
    p = period if isinstance(period, Period) else parse_period(period)
    dims = parse_dims(by if isinstance(by, str) else list(by))
    flt = normalize_filters(kind, filters)
    group_level = origin_level(kind, [*dims, *flt])
    total_level = origin_level(kind, list(flt))
    for d, values in flt.items():
        if is_origin_dim(kind, d) and len(values) != 1 and (d not in dims or total_level):
            raise DimError(
                f"来源维度「{d}」筛选多个取值时无法按企业去重计算合计：请每次筛选一个取值"
            )
    args: dict[str, Any] = {
        "kind": kind,
        "period": p,
        "penetrate": penetrate,
        "include_persons": include_persons,
    }
    served = "cube"
    if engine is None:
        eng = DuckDBEngine(con)
        horizon = None if live else _horizon(con)
        if horizon and horizon[0] <= p.start_ym and p.end_ym <= horizon[1]:
            rows = _cube_answer(con, dims=dims, level=group_level, filters=flt, **args)
            total = _cube_answer(con, dims=[], level=total_level, filters=flt, **args)
        else:
            served = "live"
            rows, total = live_answer(
                eng,
                None,
                dims,
                flt,
                group_level,
                total_level,
                from_cube_tables=bool(horizon),
                **args,
            )
        eng.drop_all()
    else:
        served = "live"
        rows, total = live_answer(
            engine, inputs, dims, flt, group_level, total_level, from_cube_tables=False, **args
        )
    return StatsResult(
        kind=kind,
        period=p,
        by=dims,
        penetrate=penetrate,
        include_persons=include_persons,
        rows=_finish_rows(rows, dims),
        total=_finish_measures(total[0] if total else {}),
        filters=flt,
        served_from=served,
    )


def totals(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    periods: Sequence[str],
    penetrate: bool = False,
    filters: Filters | None = None,
) -> dict[str, dict[str, Any]]:
    """The total row of ``kind`` for each of ``periods`` (label -> measures), in one query.

    The overview shows a dozen totals (years and quarters); asking ``stats`` for
    each costs two queries apiece. Periods inside the materialised horizon are
    answered by one ``UNION ALL`` of their cube queries; any other period falls
    back to ``stats``. Same figures as ``stats(...).total`` (up to the order of
    floating-point summation).

    >>> # totals(con, "inbound", ["2017", "2018"])["2018"]["enterprises"]
    """
    check_kind(kind)
    flt = normalize_filters(kind, filters)
    level = origin_level(kind, list(flt))
    horizon = _horizon(con)
    parsed = [parse_period(p) for p in periods]
    inside = [p for p in parsed if horizon and horizon[0] <= p.start_ym and p.end_ym <= horizon[1]]
    out: dict[str, dict[str, Any]] = {}
    if inside:
        parts = [
            f"SELECT {i} AS _period, * FROM ({_cube_sql(con, kind, level, p, [], penetrate, False, flt)})"
            for i, p in enumerate(inside)
        ]
        cur = con.execute(" UNION ALL ".join(parts))
        cols = [d[0] for d in cur.description]
        for r in cur.fetchall():
            row = dict(zip(cols, r, strict=True))
            out[inside[row.pop("_period")].label] = _finish_measures(row)
        for p in inside:  # a period with no rows at all has zero totals
            out.setdefault(p.label, _finish_measures({}))
    for p in parsed:
        if p.label not in out:
            out[p.label] = stats(
                con, kind, p, ["industry_section"], penetrate=penetrate, filters=filters
            ).total
    return {p.label: out[p.label] for p in parsed}


def _horizon(con: duckdb.DuckDBPyConnection) -> tuple[int, int] | None:
    st = get_state(con)
    if st.get("built") != "1":
        return None
    return int(st["h0"]), int(st["h1"])


def cube_table(kind: str, dims: list[str]) -> str:
    """The smallest materialised cube holding the columns an answer over ``dims`` reads."""
    from crossinvest.analytics.materialize import E_COLS, ROLLUPS

    needed = {c for c in answer_mod.needed_columns(kind, dims) if c in E_COLS}
    fits = [(len(kept), t) for t, kept in ROLLUPS.items() if needed <= set(kept)]
    return min(fits)[1] if fits else "an_cube"


@functools.lru_cache(maxsize=8)
def _cube_schema(name: str = "an_cube") -> ir.Table:
    from ibis.backends.sql.datatypes import DuckDBType

    cols = {
        "kind": "VARCHAR",
        "level": "TINYINT",
        "mask": "TINYINT",
        "o_prov": "VARCHAR",
        "o_pref": "VARCHAR",
        "o_dist": "VARCHAR",
        "e_region": "VARCHAR",
        "e_div": "VARCHAR",
        "e_sec": "VARCHAR",
        "est_b": "INTEGER",
        "end_b": "INTEGER",
        "src": "TINYINT",
        "tm": "INTEGER",
        "n": "BIGINT",
        "inv0": "DOUBLE",
        "inv1": "DOUBLE",
        "inv2": "DOUBLE",
        "inv3": "DOUBLE",
        **{f"t{m:02d}": "DOUBLE" for m in range(1, 13)},
        "rev": "DOUBLE",
        "emp": "BIGINT",
    }
    return ibis.table({k: DuckDBType.from_string(v) for k, v in cols.items()}, name=name)


@functools.lru_cache(maxsize=1)
def _lookup_schemas() -> answer_mod.Lookups:
    s = ibis.schema
    return answer_mod.Lookups(
        regions=ibis.table(
            s(
                {
                    c: "string"
                    for c in (
                        "code",
                        "name",
                        "province_code",
                        "province_name",
                        "prefecture_code",
                        "prefecture_name",
                        "district_code",
                        "district_name",
                    )
                }
                | {"domestic": "boolean"}
            ),
            name="an_region_lookup",
        ),
        industries=ibis.table(
            s({c: "string" for c in ("division_code", "division_name", "section", "section_name")}),
            name="an_industry_lookup",
        ),
        support=ibis.table(
            s(
                {
                    "code": "string",
                    "support_code": "string",
                    "support_name": "string",
                    "valid_from": "date",
                    "valid_to": "date",
                }
            ),
            name="an_support_lookup",
        ),
    )


def _cube_sql(
    con,
    kind: str,
    level: int,
    period: Period,
    dims: list[str],
    penetrate: bool,
    include_persons: bool,
    filters: dict[str, list[str | None]],
) -> str:
    """Compiled SQL of one cube answer (compiling costs more than running: cached, see sqlcache)."""

    table = cube_table(kind, [*dims, *filters])

    def build(filters: dict[str, list[str | None]]) -> str:
        cube = _cube_schema(table)
        cube = cube.filter((cube.kind == kind) & (cube.level == level))
        expr = answer_mod.answer(
            cube,
            _lookup_schemas(),
            kind=kind,
            period=period,
            dims=list(dims),
            penetrate=penetrate,
            include_persons=include_persons,
            filters=filters,
        )
        return str(ibis.to_sql(expr, dialect="duckdb"))

    # Compiled once per shape, whatever the filter values: each value is compiled
    # as a placeholder literal, replaced by the value's literal afterwards. A
    # drill-down into any province then reuses the compile of the first (~100 ms
    # at every first click before), and the SQL can be kept in the warehouse.
    holes = {
        d: [None if v is None else f"ci_filter_{d}_{i}_placeholder" for i, v in enumerate(values)]
        for d, values in filters.items()
    }
    key = f"answer:{table}:{kind}:{level}:{period.label}:{','.join(dims)}:{int(penetrate)}:{int(include_persons)}:{sorted(holes.items())!r}"
    sql = cached_sql(con, key, lambda: build(holes))
    values_of = {
        f"'{hole}'": "'" + str(v).replace("'", "''") + "'"
        for d, values in filters.items()
        for hole, v in zip(holes[d], values, strict=True)
        if hole is not None
    }
    if not values_of:
        return sql
    if any(literal not in sql for literal in values_of):
        return build(filters)  # never seen; compile with the values rather than guess
    # One pass, so that a value can never be taken for another placeholder.
    return re.sub("|".join(map(re.escape, values_of)), lambda m: values_of[m.group()], sql)


def _cube_answer(
    con, *, kind, period, dims, level, filters, penetrate, include_persons
) -> list[dict]:
    sql = _cube_sql(con, kind, level, period, dims, penetrate, include_persons, filters)
    cur = con.execute(sql)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _finish_measures(r: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "enterprises": int(r.get("enterprises") or 0),
        "new_enterprises": int(r.get("new_enterprises") or 0),
        "investment_wan": float(r.get("investment_wan") or 0.0),
        "tax_wan": float(r.get("tax_wan") or 0.0),
        "revenue_wan": float(r.get("revenue_wan") or 0.0),
        "employees": int(r.get("employees") or 0),
    }


def _finish_rows(rows: list[dict[str, Any]], dims: list[str]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        row: dict[str, Any] = {}
        for d in dims:
            row[d] = r[d]
            row[f"{d}_name"] = r[f"{d}_name"]
        row.update(_finish_measures(r))
        out.append(row)
    out.sort(key=lambda r: tuple((r[d] is None, r[d] or "") for d in dims))
    return out


__all__ = ["StatsResult", "normalize_filters", "scoped_filters", "stats", "totals"]
