"""Statistics datasets: grouped figures, the overview's headline and trends.

Figures come from ``crossinvest.analytics.query`` only, so the pages, the API,
exports and ``crossinvest stats`` agree to the last digit. The actor's scope
goes in as statistics filters; disclosure control applies to roles that may
not see single enterprises' money.
"""

from __future__ import annotations

from typing import Any

from crossinvest.access.disclosure import ENTERPRISE_MONEY, suppress, suppress_total
from crossinvest.access.gate import ReadContext, dataset
from crossinvest.warehouse.connection import fetch_one
from crossinvest.web.envelope import ApiError, bad_request

MEASURES = (
    "enterprises",
    "new_enterprises",
    "investment_wan",
    "tax_wan",
    "revenue_wan",
    "employees",
)
# Dimensions that make sense per kind (the API's enums).
KIND_DIMS: dict[str, tuple[str, ...]] = {
    "inbound": (
        "origin_province",
        "origin_prefecture",
        "district",
        "industry_section",
        "industry_division",
    ),
    "outbound": (
        "dest_province",
        "dest_prefecture",
        "district",
        "industry_section",
        "industry_division",
        "support_region",
    ),
}


def analytics() -> Any:
    """The statistics layer, or a 503 answer while it is not installed."""
    import importlib

    try:
        return importlib.import_module("crossinvest.analytics.query")
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith("crossinvest.analytics"):
            raise ApiError(
                503, "unavailable", "统计模块尚未安装", "statistics module not installed"
            ) from e
        raise


def _input_errors() -> tuple[type[Exception], ...]:
    from crossinvest.analytics.dims import DimError
    from crossinvest.analytics.periods import PeriodError

    return (DimError, PeriodError)


def run_stats(
    ctx: ReadContext,
    kind: str,
    period: str,
    by: list[str],
    *,
    penetrate: bool = False,
    include_persons: bool = False,
    filters: dict[str, list[str]] | None = None,
) -> Any:
    """``analytics.query.stats`` with the actor's scope; bad input becomes a 400."""
    q = analytics()
    try:
        return q.stats(
            ctx.con,
            kind,
            period,
            by,
            penetrate=penetrate,
            include_persons=include_persons,
            filters=ctx.stats_filters(filters or None),
        )
    except _input_errors() as e:
        raise bad_request(str(e), "invalid statistics parameters") from e


def _clean_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if k.endswith("_date") and v is not None else v) for k, v in row.items()}


def _money_hidden(row: dict[str, Any]) -> dict[str, Any]:
    """The row without its confidential measures (tax, revenue, profit); investment,
    registry data, stays."""
    out = {k: (None if k in ENTERPRISE_MONEY else v) for k, v in row.items()}
    out["suppressed"] = True
    return out


@dataset("stats", guard="stats")
def stats(
    ctx: ReadContext,
    *,
    kind: str,
    period: str,
    by: list[str],
    penetrate: bool = False,
    include_persons: bool = False,
    filters: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """One statistics table: rows per group and the total row (contract.md's JSON)."""
    res = run_stats(
        ctx, kind, period, by, penetrate=penetrate, include_persons=include_persons, filters=filters
    )
    rows = [_clean_row(dict(r)) for r in res.rows]
    total = _clean_row(dict(res.total))
    if not ctx.sees_enterprise_money:
        if filters or penetrate or include_persons:
            # A filtered table counts a subset of the published table's enterprises,
            # and persons or penetration count a few more or fewer: in many cells the
            # two tables differ by one or two enterprises, and subtracting one from the
            # other gives those enterprises' tax or revenue (an access review found
            # ~330 such cells in the demo). These tables show counts and investment, not the confidential measures.
            rows = [_money_hidden(r) for r in rows]
            total = _money_hidden(total)
        else:
            # Complementary suppression over every margin of this table (total, marginal
            # groups along each dim, province/section parents); a total of < 3 firms is hidden.
            rows = suppress(rows, list(res.by), total)
            total = suppress_total(total)
    from crossinvest.analytics.periods import parse_period

    return {
        "kind": kind,
        "period": parse_period(period).label,
        "reference_date": str(res.reference_date),
        "by": list(by),
        "penetrate": penetrate,
        "include_persons": include_persons,
        "filters": filters or {},
        "rows": rows,
        "total": total,
    }


@dataset("latest_year", guard="stats")
def latest_year(ctx: ReadContext) -> int | None:
    """The latest year with tax or statistics data (else with an establishment).

    Read from all tax and stats rows, not only current ones: a row stops being
    current only when a row with the same natural key -- which includes the period
    or year -- replaces it, so both hold the same periods. Without the filter
    DuckDB answers ``max`` from the column alone (1 ms instead of 144 ms at 80M
    tax rows).
    """
    row = fetch_one(
        ctx.con,
        """
        SELECT COALESCE(
            greatest((SELECT year(max(period)) FROM tax_rows), (SELECT max(year) FROM stats_rows)),
            (SELECT max(year(established_on)) FROM registry))
        """,
    )
    return int(row[0]) if row and row[0] is not None else None


def _totals(
    ctx: ReadContext, kind: str, periods: list[str], penetrate: bool
) -> dict[str, dict[str, Any]]:
    """The total row of each period, in one query (``analytics.query.totals``), scoped."""
    try:
        got = analytics().totals(
            ctx.con, kind, periods, penetrate=penetrate, filters=ctx.stats_filters(None)
        )
    except _input_errors() as e:
        raise bad_request(str(e), "invalid statistics parameters") from e
    out = {p: {m: t.get(m) for m in MEASURES} for p, t in got.items()}
    if ctx.sees_enterprise_money:
        return out
    if penetrate:  # a variant of the published totals: see ``stats``
        return {p: _money_hidden(t) for p, t in out.items()}
    return {p: suppress_total(t) for p, t in out.items()}


def _protect_quarters(
    ctx: ReadContext, by_year: dict[str, dict[str, Any]], by_quarter: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Complementary suppression of a year's quarters against the year's published total.

    Tax is paid by quarter, so a year minus three visible quarters would give a
    hidden fourth; the year's total is the margin of its quarters.
    """
    if ctx.sees_enterprise_money:
        return by_quarter
    out = dict(by_quarter)
    for y, year_total in by_year.items():
        qs = [q for q in by_quarter if q.startswith(f"{y}Q")]
        for q, row in zip(qs, suppress([by_quarter[q] for q in qs], (), year_total), strict=True):
            out[q] = row
    return out


def _yoy(cur: dict[str, Any], prev: dict[str, Any]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for m in MEASURES:
        a, b = cur.get(m), prev.get(m)
        out[m] = (a - b) / b if a is not None and b not in (None, 0) else None
    return out


def horizon(ctx: ReadContext) -> tuple[int, int] | None:
    """The months (YYYYMM) the materialised statistics cover, if built."""
    from crossinvest.analytics.tables import get_state

    st = get_state(ctx.con)
    if st.get("built") != "1":
        return None
    return int(st["h0"]), int(st["h1"])


def _covered(h: tuple[int, int] | None, period: str) -> bool:
    from crossinvest.analytics.periods import PeriodError, parse_period

    try:
        p = parse_period(period)
    except PeriodError:  # e.g. five years before 1950: no such period, so not covered
        return False
    return h is not None and h[0] <= p.start_ym and p.end_ym <= h[1]


@dataset("overview", guard="stats")
def overview(
    ctx: ReadContext, *, kind: str, year: int | None = None, penetrate: bool = False
) -> dict:
    """Headline figures of ``year`` with year-on-year change, trends by year and quarter.

    Trends and the previous year cover only the periods the materialised
    statistics hold (the years of the tax and statistics deliveries): outside
    them there is no tax or revenue to compare, and computing them live would
    make the first page slow.
    """
    if year is None:
        year = latest_year(ctx)
    if year is None:
        return {
            "kind": kind,
            "year": None,
            "current": None,
            "previous": None,
            "yoy": None,
            "by_year": [],
            "by_quarter": [],
        }
    from crossinvest.analytics.periods import parse_period

    h = horizon(ctx)
    years = [str(y) for y in range(year - 4, year) if _covered(h, str(y))] + [str(year)]
    quarters = [
        f"{y}Q{q}" for y in (year - 1, year) for q in (1, 2, 3, 4) if _covered(h, f"{y}Q{q}")
    ]
    every = _totals(ctx, kind, [*years, *quarters], penetrate)
    by_year = {y: every[y] for y in years}
    by_quarter = _protect_quarters(ctx, by_year, {q: every[q] for q in quarters})
    current = by_year[str(year)]
    previous = by_year.get(str(year - 1))
    return {
        "kind": kind,
        "year": year,
        "reference_date": str(parse_period(str(year)).reference_date),
        "penetrate": penetrate,
        "current": current,
        "previous": previous,
        "yoy": None if previous is None else _yoy(current, previous),
        "by_year": [{"period": y, **v} for y, v in by_year.items()],
        "by_quarter": [{"period": q, **v} for q, v in by_quarter.items()],
    }
