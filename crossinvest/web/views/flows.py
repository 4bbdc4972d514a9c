"""The inbound and outbound pages: one builder, two flows.

A page shows the province map, the province table (or, drilled into a province,
its prefectures), tables by district, industry and (outbound) support region
filtered to the selection, and at a drilled level the list of enterprises. Every
table is the API's answer for the same query, linked beside it as JSON, CSV and
XLSX, so the page, the API and the exports cannot disagree.
"""

# No postponed annotations here: routes made in factories use local Annotated aliases,
# which FastAPI must resolve at definition time.

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from crossinvest.access.gate import Gate
from crossinvest.web.datasets.docs import ANCHOR
from crossinvest.web.datasets.stats import MEASURES
from crossinvest.web.envelope import ApiError
from crossinvest.web.i18n import t
from crossinvest.web.respond import CurrentActor, answer_page
from crossinvest.web.views.api_enterprises import PAGE_COLUMNS, list_columns
from crossinvest.web.views.params import OptionalPeriod

TOP_N = 15  # bars per chart; the table below shows every row


@dataclass(frozen=True)
class Flow:
    kind: str
    path: str
    province_dim: str
    prefecture_dim: str
    tables: tuple[str, ...]
    persons: bool  # offer the natural-person switch (origin of investors)


INBOUND = Flow(
    "inbound",
    "/inbound",
    "origin_province",
    "origin_prefecture",
    ("district", "industry_section"),
    True,
)
OUTBOUND = Flow(
    "outbound",
    "/outbound",
    "dest_province",
    "dest_prefecture",
    ("industry_section", "support_region", "district"),
    False,
)


def recent_periods(year: int | None) -> list[str]:
    """The picker's choices: the last six years, then the quarters of the last two."""
    if year is None:
        return []
    years = [str(y) for y in range(year, year - 6, -1)]
    quarters = [f"{y}Q{q}" for y in (year, year - 1) for q in (4, 3, 2, 1)]
    return years + quarters


def _qs(**params: Any) -> str:
    return urlencode(
        {k: ("true" if v is True else v) for k, v in params.items() if v not in (None, False, "")}
    )


def _sort(rows: list[dict]) -> list[dict]:
    return sorted(
        rows, key=lambda r: (-(r.get("investment_wan") or 0), -(r.get("enterprises") or 0))
    )


def _block(
    flow: Flow, g: Gate, lang: str, dim: str, base: dict, filters: dict, link: Any = None
) -> dict:
    data = g.read(
        "stats",
        kind=flow.kind,
        period=base["period"],
        by=[dim],
        penetrate=base["penetrate"],
        include_persons=base["include_persons"],
        filters=filters,
    )
    rows = _sort(data["rows"])
    for r in rows:
        r["link"] = link(r) if link and r.get(dim) else None
    query = _qs(
        period=base["period"],
        by=dim,
        penetrate=base["penetrate"],
        include_persons=base["include_persons"],
        **{k: ",".join(v) for k, v in filters.items()},
    )
    api = f"/api/v1/stats/{flow.kind}?{query}"
    top = [r for r in rows if r.get(dim)][:TOP_N]
    return {
        "id": f"by-{dim}",
        "dim": dim,
        "title": t(f"dim.{dim}", lang),
        "anchor": ANCHOR["penetrate"] if base["penetrate"] else ANCHOR[flow.kind],
        "rows": rows,
        "total": data["total"],
        "reference_date": data["reference_date"],
        "api": api,
        "csv": f"/api/v1/stats/{flow.kind}/export?{query}&format=csv",
        "xlsx": f"/api/v1/stats/{flow.kind}/export?{query}&format=xlsx",
        "chart": "bar",
        "chart_data": {
            "categories": [r.get(f"{dim}_name") or r.get(dim) for r in top],
            "series": [
                {
                    "key": "investment_wan",
                    "name": t("m.investment_wan", lang),
                    "data": [r.get("investment_wan") for r in top],
                },
                {
                    "key": "tax_wan",
                    "name": t("m.tax_wan", lang),
                    "data": [r.get("tax_wan") for r in top],
                },
            ],
        },
    }


def build(
    g: Gate,
    lang: str,
    flow: Flow,
    *,
    period: str | None,
    penetrate: bool,
    include_persons: bool,
    province: str | None,
    prefecture: str | None,
    ecursor: str | None,
) -> tuple[str, dict[str, Any]]:
    """Template name and context of an inbound/outbound page."""
    year = g.read("latest_year")
    period = period or (str(year) if year else None)
    base = {
        "period": period,
        "penetrate": penetrate,
        "include_persons": include_persons and flow.persons,
    }
    ctx: dict[str, Any] = {
        "kind": flow.kind,
        "anchor": ANCHOR[flow.kind],
        "period": period,
        "year": year,
        "penetrate": penetrate,
        "include_persons": base["include_persons"],
        "show_persons": flow.persons,
        "periods": recent_periods(year)
        if period in recent_periods(year) or not period
        else [period, *recent_periods(year)],
        "hidden": {"province": province, "prefecture": prefecture},
        "measures": MEASURES,
        "crumbs_root": f"{flow.path}?{_qs(period=period, penetrate=penetrate, include_persons=base['include_persons'])}",
        "crumbs": [],
        "selection": None,
        "headline": dict.fromkeys(MEASURES),
        "reference_date": None,
        "blocks": [],
        "enterprises": None,
        "map_data": None,
        "map_block": None,
    }
    if period is None:
        return "flows.html", ctx

    keep = {"period": period, "penetrate": penetrate, "include_persons": base["include_persons"]}

    def province_link(r: dict) -> str:
        return f"{flow.path}?{_qs(**keep, province=r[flow.province_dim])}"

    def prefecture_link(r: dict) -> str:
        return f"{flow.path}?{_qs(**keep, province=province, prefecture=r[flow.prefecture_dim])}"

    provinces = _block(flow, g, lang, flow.province_dim, base, {}, province_link)
    ctx["map_block"] = provinces
    ctx["reference_date"] = provinces["reference_date"]
    ctx["map_data"] = {
        "kind": flow.kind,
        "selected": province,
        "name": t("m.investment_wan", lang),
        "data": [
            {
                "name": r[flow.province_dim],
                "label": r.get(f"{flow.province_dim}_name"),
                "value": r.get("investment_wan"),
                "enterprises": r.get("enterprises"),
                "tax": r.get("tax_wan"),
                "link": r["link"],
            }
            for r in provinces["rows"]
            if r.get(flow.province_dim)
        ],
    }
    filters: dict[str, list[str]] = {}
    if province:
        filters[flow.province_dim] = [province]
        name = next(
            (
                r.get(f"{flow.province_dim}_name")
                for r in provinces["rows"]
                if r.get(flow.province_dim) == province
            ),
            province,
        )
        ctx["crumbs"].append(
            {"name": name, "href": f"{flow.path}?{_qs(**keep, province=province)}"}
        )
        geo = _block(flow, g, lang, flow.prefecture_dim, base, filters, prefecture_link)
    else:
        geo = provinces
    if prefecture:
        filters[flow.prefecture_dim] = [prefecture]
        name = next(
            (
                r.get(f"{flow.prefecture_dim}_name")
                for r in geo["rows"]
                if r.get(flow.prefecture_dim) == prefecture
            ),
            prefecture,
        )
        ctx["crumbs"].append(
            {
                "name": name,
                "href": f"{flow.path}?{_qs(**keep, province=province, prefecture=prefecture)}",
            }
        )
    blocks = [geo] + [_block(flow, g, lang, d, base, filters) for d in flow.tables]
    ctx["blocks"] = blocks
    ctx["headline"] = blocks[1]["total"]  # over distinct enterprises of the selection
    ctx["selection"] = " › ".join(c["name"] for c in ctx["crumbs"]) or None
    if filters and g.allowed("enterprise_list"):
        ctx["enterprises"] = _enterprises(
            g, flow, base, filters, ecursor, keep, province, prefecture
        )
    return "flows.html", ctx


def _enterprises(
    g: Gate,
    flow: Flow,
    base: dict,
    filters: dict,
    ecursor: str | None,
    keep: dict,
    province: str | None,
    prefecture: str | None,
) -> dict[str, Any]:
    fq = {k: ",".join(v) for k, v in filters.items()}
    query = _qs(
        period=base["period"],
        penetrate=base["penetrate"],
        include_persons=base["include_persons"],
        **fq,
    )
    block = {
        "api": f"/api/v1/stats/{flow.kind}/enterprises?{query}",
        "csv": f"/api/v1/stats/{flow.kind}/enterprises/export?{query}&format=csv",
        "xlsx": f"/api/v1/stats/{flow.kind}/enterprises/export?{query}&format=xlsx",
    }
    try:
        data = g.read(
            "enterprise_list",
            kind=flow.kind,
            period=base["period"],
            filters=filters,
            penetrate=base["penetrate"],
            include_persons=base["include_persons"],
            cursor=ecursor,
            limit=50,
        )
    except ApiError as e:
        return {"block": block, "error": e.message, "rows": [], "columns": [], "next": None}
    rows = data["rows"]
    nxt = None
    if data["next"]:
        nxt = f"{flow.path}?{_qs(**keep, province=province, prefecture=prefecture, ecursor=data['next'])}#enterprises"
    labels = dict(list_columns(rows))
    columns = [(k, labels[k]) for k in PAGE_COLUMNS if k in labels]
    return {"block": block, "error": None, "rows": rows, "columns": columns, "next": nxt}


def page_router(flow: Flow) -> APIRouter:
    """The router of one flow's page (``/inbound`` or ``/outbound``)."""
    router = APIRouter(include_in_schema=False)
    code = Annotated[str | None, Query(pattern=r"^[0-9]{6}$")]

    @router.get(flow.path, name=f"{flow.kind}_page")
    async def page(
        request: Request,
        actor: CurrentActor,
        period: OptionalPeriod = None,
        penetrate: bool = False,
        include_persons: bool = False,
        province: code = None,
        prefecture: code = None,
        ecursor: Annotated[str | None, Query(max_length=40)] = None,
    ) -> Response:
        return await answer_page(
            request,
            actor,
            lambda g, lang: build(
                g,
                lang,
                flow,
                period=period,
                penetrate=penetrate,
                include_persons=include_persons,
                province=province,
                prefecture=prefecture,
                ecursor=ecursor,
            ),
        )

    return router
