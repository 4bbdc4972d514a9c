"""JSON API of the statistics: tables, exports, the overview, dimensions.

``GET /api/v1/stats/inbound?period=2018&by=district&origin_province=330000``
answers the same rows as ``crossinvest stats inbound --period 2018 --by
origin_province,district`` restricted to Zhejiang, with a total row.
"""

# No postponed annotations here: routes made in factories use local Annotated aliases,
# which FastAPI must resolve at definition time.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from crossinvest.access.gate import Gate
from crossinvest.web.datasets.docs import ANCHOR
from crossinvest.web.datasets.stats import KIND_DIMS, MEASURES
from crossinvest.web.envelope import ok
from crossinvest.web.export import MEDIA, content_disposition, export_bytes
from crossinvest.web.models import StatsData, documented, exported
from crossinvest.web.respond import CurrentActor, answer, answer_json
from crossinvest.web.views.params import (
    FILTERS,
    Format,
    IncludePersons,
    Penetrate,
    Period,
    by_pattern,
)

router = APIRouter(prefix="/api/v1", tags=["statistics 统计"])

DIM_LABELS = {
    "origin_province": "来源省份",
    "origin_prefecture": "来源地市",
    "district": "所在区",
    "dest_province": "目的地省份",
    "dest_prefecture": "目的地地市",
    "industry_section": "行业门类",
    "industry_division": "行业大类",
    "support_region": "对口支援地区",
}
MEASURE_LABELS = {
    "enterprises": "企业数",
    "new_enterprises": "新设企业数",
    "investment_wan": "投资额（万元）",
    "tax_wan": "纳税额（万元）",
    "revenue_wan": "营业收入（万元）",
    "employees": "从业人员",
}


def stats_columns(by: list[str]) -> list[tuple[str, str]]:
    """Export columns: each dimension's code and name, then every measure."""
    cols: list[tuple[str, str]] = []
    for d in by:
        cols += [(d, f"{DIM_LABELS.get(d, d)}代码"), (f"{d}_name", DIM_LABELS.get(d, d))]
    return cols + [(m, MEASURE_LABELS[m]) for m in MEASURES]


def stats_export_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The table's rows then its total row (labelled 合计 in the first name column)."""
    by = data["by"]
    total = dict(data["total"])
    if by:
        total[f"{by[0]}_name"] = "合计"
    return [*data["rows"], total]


def stats_meta(data: dict[str, Any]) -> dict[str, Any]:
    anchor = ANCHOR["penetrate"] if data["penetrate"] else ANCHOR[data["kind"]]
    return {
        "kind": data["kind"],
        "period": data["period"],
        "reference_date": data["reference_date"],
        "definitions": f"/definitions#{anchor}",
        "count": len(data["rows"]),
    }


def _parse_by(by: str) -> list[str]:
    out: list[str] = []
    for d in by.split(","):
        if d not in out:
            out.append(d)
    return out


def _register_kind(kind: str) -> None:
    filters_dep = FILTERS[kind]
    By = Annotated[
        str,
        Query(
            pattern=by_pattern(kind),
            description="分组维度，逗号分隔",
            examples=[KIND_DIMS[kind][0]],
        ),
    ]
    Filters = Annotated[dict[str, list[str]], Depends(filters_dep)]

    @router.get(
        f"/stats/{kind}",
        responses=documented(StatsData),
        summary=f"{kind} statistics table",
        operation_id=f"stats_{kind}",
    )
    async def stats_table(
        request: Request,
        actor: CurrentActor,
        period: Period,
        by: By,
        filters: Filters,
        penetrate: Penetrate = False,
        include_persons: IncludePersons = False,
    ) -> Response:
        def produce(g: Gate) -> dict:
            data = g.read(
                "stats",
                kind=kind,
                period=period,
                by=_parse_by(by),
                penetrate=penetrate,
                include_persons=include_persons,
                filters=filters,
            )
            return ok(data, stats_meta(data))

        return await answer_json(request, actor, produce)

    @router.get(
        f"/stats/{kind}/export",
        summary=f"{kind} statistics table as CSV or XLSX",
        operation_id=f"stats_{kind}_export",
        responses=exported(),
    )
    async def stats_export(
        request: Request,
        actor: CurrentActor,
        period: Period,
        by: By,
        filters: Filters,
        format: Format = "csv",
        penetrate: Penetrate = False,
        include_persons: IncludePersons = False,
    ) -> Response:
        dims = _parse_by(by)

        def produce(g: Gate) -> bytes:
            data = g.read(
                "stats",
                "export",
                kind=kind,
                period=period,
                by=dims,
                penetrate=penetrate,
                include_persons=include_persons,
                filters=filters,
            )
            return export_bytes(format, stats_columns(dims), stats_export_rows(data))

        stem = f"{kind}_{period}_{'_'.join(dims)}"
        return await answer(
            request,
            actor,
            produce,
            media_type=MEDIA[format],
            cache=False,
            headers={"Content-Disposition": content_disposition(stem, format)},
        )


for _kind in KIND_DIMS:
    _register_kind(_kind)


@router.get(
    "/overview", responses=documented(dict[str, Any]), summary="headline figures and trends"
)
async def overview(
    request: Request,
    actor: CurrentActor,
    kind: Annotated[str, Query(pattern="^(inbound|outbound)$")] = "inbound",
    year: Annotated[int | None, Query(ge=1950, le=2099)] = None,
    penetrate: Penetrate = False,
) -> Response:
    def produce(g: Gate) -> dict:
        data = g.read("overview", kind=kind, year=year, penetrate=penetrate)
        return ok(
            data,
            {
                "kind": kind,
                "period": None if data["year"] is None else str(data["year"]),
                "reference_date": data.get("reference_date"),
                "definitions": f"/definitions#{ANCHOR['measures']}",
            },
        )

    return await answer_json(request, actor, produce)


@router.get("/dimensions", responses=documented(dict[str, Any]), summary="dimensions and measures")
async def dimensions(request: Request, actor: CurrentActor) -> Response:
    data = {
        "kinds": {k: list(v) for k, v in KIND_DIMS.items()},
        "dimensions": DIM_LABELS,
        "measures": MEASURE_LABELS,
    }
    return await answer_json(
        request, actor, lambda g: ok(data, {"definitions": "/definitions#measures"})
    )


@router.get("/latest-year", responses=documented(dict[str, Any]), summary="latest year with data")
async def latest(request: Request, actor: CurrentActor) -> Response:
    def produce(g: Gate) -> dict:
        return ok({"year": g.read("latest_year")})

    return await answer_json(request, actor, produce)
