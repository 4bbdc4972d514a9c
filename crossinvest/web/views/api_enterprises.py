"""JSON API of enterprises: search, the list behind a figure, profile, ownership chain."""

# No postponed annotations here: routes made in factories use local Annotated aliases,
# which FastAPI must resolve at definition time.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from crossinvest.access.gate import Gate
from crossinvest.web.datasets.docs import ANCHOR
from crossinvest.web.datasets.stats import KIND_DIMS
from crossinvest.web.envelope import ok
from crossinvest.web.export import MEDIA, content_disposition, export_bytes
from crossinvest.web.models import ListData, documented, exported
from crossinvest.web.respond import CurrentActor, answer, answer_json
from crossinvest.web.views.params import FILTERS, Format, IncludePersons, Limit, Penetrate, Period

router = APIRouter(prefix="/api/v1", tags=["enterprises 企业"])

KEY_PATTERN = r"^([0-9A-Z]{18}|R:[0-9]{13,15})$"
EnterpriseKey = Annotated[
    str, Path(pattern=KEY_PATTERN, description="统一社会信用代码（或 R:注册号）")
]
Cursor = Annotated[str | None, Query(max_length=40, description="上一页最后的企业键")]

LIST_LABELS = {
    "enterprise_key": "企业键",
    "uscc": "统一社会信用代码",
    "name": "企业名称",
    "region_code": "住所行政区划",
    "region_name": "所在地",
    "district": "所在区",
    "district_name": "所在区名称",
    "industry_code": "行业代码",
    "industry_section": "行业门类代码",
    "industry_section_name": "行业门类",
    "established_on": "成立日期",
    "registered_capital_wan": "注册资本（万元）",
    "investment_wan": "投资额（万元）",
    "tax_wan": "纳税额（万元）",
    "revenue_wan": "营业收入（万元）",
    "employees": "从业人员",
    "status": "登记状态",
    "origins": "来源地",
}


# What the pages show of an enterprise list (the export has every column).
PAGE_COLUMNS = (
    "name",
    "uscc",
    "region_name",
    "industry_section_name",
    "established_on",
    "origins",
    "investment_wan",
    "tax_wan",
    "revenue_wan",
    "employees",
)


def list_columns(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    keys: list[str] = []
    for r in rows[:1]:
        keys = list(r)
    return [(k, LIST_LABELS.get(k, k)) for k in keys] or [(k, v) for k, v in LIST_LABELS.items()]


@router.get(
    "/enterprises", responses=documented(ListData), summary="search enterprises by name or USCC"
)
async def search(
    request: Request,
    actor: CurrentActor,
    q: Annotated[str, Query(min_length=1, max_length=100, description="名称片段或代码前缀")],
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response:
    def produce(g: Gate) -> dict:
        data = g.read("search", q=q, cursor=cursor, limit=limit)
        return ok({"rows": data["rows"]}, {"next": data["next"], "count": len(data["rows"])})

    return await answer_json(request, actor, produce)


def _register_list(kind: str) -> None:
    Filters = Annotated[dict[str, list[str]], Depends(FILTERS[kind])]

    @router.get(
        f"/stats/{kind}/enterprises",
        responses=documented(ListData),
        operation_id=f"{kind}_enterprises",
        summary=f"the {kind} enterprises behind a figure",
    )
    async def enterprises(
        request: Request,
        actor: CurrentActor,
        period: Period,
        filters: Filters,
        penetrate: Penetrate = False,
        include_persons: IncludePersons = False,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response:
        def produce(g: Gate) -> dict:
            data = g.read(
                "enterprise_list",
                kind=kind,
                period=period,
                filters=filters,
                penetrate=penetrate,
                include_persons=include_persons,
                cursor=cursor,
                limit=limit,
            )
            return ok(
                {"rows": data["rows"]},
                {
                    "next": data["next"],
                    "count": len(data["rows"]),
                    "period": period,
                    "definitions": f"/definitions#{ANCHOR[kind]}",
                },
            )

        return await answer_json(request, actor, produce)

    @router.get(
        f"/stats/{kind}/enterprises/export",
        operation_id=f"{kind}_enterprises_export",
        summary=f"the {kind} enterprises behind a figure, as CSV or XLSX",
        responses=exported(),
    )
    async def enterprises_export(
        request: Request,
        actor: CurrentActor,
        period: Period,
        filters: Filters,
        penetrate: Penetrate = False,
        include_persons: IncludePersons = False,
        format: Format = "csv",
    ) -> Response:
        def produce(g: Gate) -> bytes:
            rows: list[dict] = []
            cursor = None
            while True:
                data = g.read(
                    "enterprise_list",
                    "export",
                    kind=kind,
                    period=period,
                    filters=filters,
                    penetrate=penetrate,
                    include_persons=include_persons,
                    cursor=cursor,
                    limit=1000,
                )
                rows += data["rows"]
                if (cursor := data["next"]) is None:
                    break
            return export_bytes(format, list_columns(rows), rows)

        return await answer(
            request,
            actor,
            produce,
            media_type=MEDIA[format],
            cache=False,
            headers={
                "Content-Disposition": content_disposition(f"{kind}_{period}_enterprises", format)
            },
        )


for _kind in KIND_DIMS:
    _register_list(_kind)


@router.get(
    "/enterprises/{key}", responses=documented(dict[str, Any]), summary="enterprise profile"
)
async def profile(request: Request, actor: CurrentActor, key: EnterpriseKey) -> Response:
    return await answer_json(
        request,
        actor,
        lambda g: ok(
            g.read("profile", key=key), {"definitions": f"/definitions#{ANCHOR['origin']}"}
        ),
    )


@router.get(
    "/enterprises/{key}/chain",
    responses=documented(dict[str, Any]),
    summary="ownership chain upward",
)
async def chain(request: Request, actor: CurrentActor, key: EnterpriseKey) -> Response:
    return await answer_json(
        request,
        actor,
        lambda g: ok(
            g.read("chain", key=key), {"definitions": f"/definitions#{ANCHOR['penetrate']}"}
        ),
    )
