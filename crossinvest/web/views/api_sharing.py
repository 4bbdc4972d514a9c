"""JSON API of the sharing service: catalogue, requests, grants, accounts, audit, usage.

Every function here hands the request's actor to ``access.sharing``, which
authorises before it reads or changes anything; a refusal is a 403 envelope.
"""

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from crossinvest.access import sharing
from crossinvest.access.catalogue import requestable
from crossinvest.access.gate import Gate
from crossinvest.web.envelope import ApiError, json_response, ok
from crossinvest.web.export import MEDIA, content_disposition, export_bytes
from crossinvest.web.guard import client_ip
from crossinvest.web.models import documented, exported
from crossinvest.web.respond import CurrentActor, answer_json, trace_of

router = APIRouter(prefix="/api/v1", tags=["sharing 共享"])

Month = Annotated[
    str | None,
    Query(pattern=r"^(19|2\d)\d{2}-(0[1-9]|1[0-2])$", description="统计月份 YYYY-MM（1900–2999）"),
]
ExportFormat = Annotated[
    str, Query(pattern="^(json|csv|xlsx)$", description="json（默认）、csv 或 xlsx")
]


def service_of(request: Request) -> Any:
    return request.app.state.access


def refused(e: sharing.SharingError) -> ApiError:
    return ApiError(e.status, e.code, e.message, e.message_en)


def delivered(request: Request, guard: str, rows: int, action: str = "read") -> None:
    """Note what an access-store answer delivered, for the audit row of this request."""
    trace_of(request).append((guard, action, rows))


def read_catalogue(g: Gate, service: Any) -> dict[str, Any]:
    """The catalogue for ``g``'s actor, dated by the warehouse's freshness, audited as one read."""
    fresh = g.read("freshness")
    g.trace.clear()  # looking up dates is not a use of the freshness dataset
    data = sharing.catalogue(service, g.actor, fresh)
    g.trace.append(("catalogue", "read", len(data["datasets"])))
    return data


@router.get("/catalogue", responses=documented(dict[str, Any]), summary="sharing catalogue")
async def catalogue(request: Request, actor: CurrentActor) -> Response:
    svc = service_of(request)
    return await answer_json(request, actor, lambda g: ok(read_catalogue(g, svc)), cache=False)


# A character Python's str.strip() keeps. JSON Schema's \S (ECMA) counts the
# separators U+001C-U+001F and U+0085 as ink; Python strips them, so a schema-valid
# reason of only those was refused (found by schemathesis).
_INK = r"[^\s\x1c-\x1f\x85]"


class NewRequest(BaseModel):
    dataset: str = Field(pattern=f"^({'|'.join(requestable())})$", description="有条件共享的数据集")
    # at least 4 characters between the first and the last that are not blank
    purpose: str = Field(
        max_length=500,
        pattern=f"{_INK}[\\s\\S]*{_INK}[\\s\\S]*{_INK}[\\s\\S]*{_INK}",
        description="用途",
    )
    days: int = Field(default=90, ge=1, le=366, description="申请期限（天）")


@router.post(
    "/requests",
    status_code=201,
    responses=documented(dict[str, Any], 409),
    summary="ask for a conditional dataset",
)
async def file_request(request: Request, actor: CurrentActor, body: NewRequest) -> Response:
    request.state.ci_audited = True  # the service records the request event
    try:
        req = await run_in_threadpool(
            sharing.file_request,
            service_of(request),
            actor,
            body.dataset,
            body.purpose,
            body.days,
            ip=client_ip(request.scope),
        )
    except sharing.SharingError as e:
        raise refused(e) from e
    return json_response(ok(req), 201)


@router.get("/requests", responses=documented(dict[str, Any]), summary="access requests")
async def list_requests(
    request: Request,
    actor: CurrentActor,
    status: Annotated[str | None, Query(pattern="^(pending|approved|rejected)$")] = None,
) -> Response:
    rows = await run_in_threadpool(sharing.requests, service_of(request), actor, status=status)
    delivered(request, "requests", len(rows))
    return json_response(ok({"rows": rows}, {"count": len(rows)}))


class Decision(BaseModel):
    approve: bool
    reason: str = Field(min_length=1, max_length=500, pattern=_INK, description="审批理由")
    days: int | None = Field(default=None, ge=1, le=366, description="授权期限（天），默认按申请")


@router.post(
    "/requests/{request_id}/decision",
    responses=documented(dict[str, Any], 409),
    summary="approve or reject a request",
)
async def decide(
    request: Request,
    actor: CurrentActor,
    request_id: Annotated[int, PathParam(ge=1, le=2**62)],
    body: Annotated[Decision, Body()],
) -> Response:
    request.state.ci_audited = True
    try:
        req = await run_in_threadpool(
            lambda: sharing.decide(
                service_of(request),
                actor,
                request_id,
                approve=body.approve,
                reason=body.reason,
                days=body.days,
                ip=client_ip(request.scope),
            )
        )
    except sharing.SharingError as e:
        raise refused(e) from e
    return json_response(ok(req))


@router.get("/grants", responses=documented(dict[str, Any]), summary="grants")
async def grants(request: Request, actor: CurrentActor) -> Response:
    rows = await run_in_threadpool(sharing.grants, service_of(request), actor)
    delivered(request, "grants", len(rows))
    return json_response(ok({"rows": rows}, {"count": len(rows)}))


@router.post(
    "/grants/{grant_id}/revoke", responses=documented(dict[str, Any]), summary="end a grant now"
)
async def revoke_grant(
    request: Request, actor: CurrentActor, grant_id: Annotated[int, PathParam(ge=1, le=2**62)]
) -> Response:
    request.state.ci_audited = True
    try:
        await run_in_threadpool(
            lambda: sharing.revoke_grant(
                service_of(request), actor, grant_id, ip=client_ip(request.scope)
            )
        )
    except sharing.SharingError as e:
        raise refused(e) from e
    return json_response(ok({"grant": grant_id, "revoked": True}))


@router.get("/users", responses=documented(dict[str, Any]), summary="accounts (administrator)")
async def users(request: Request, actor: CurrentActor) -> Response:
    rows = await run_in_threadpool(sharing.users, service_of(request), actor)
    delivered(request, "admin", len(rows))
    return json_response(ok({"rows": rows}, {"count": len(rows)}))


@router.get("/keys", responses=documented(dict[str, Any]), summary="API keys (administrator)")
async def keys(request: Request, actor: CurrentActor) -> Response:
    rows = await run_in_threadpool(sharing.keys, service_of(request), actor)
    delivered(request, "admin", len(rows))
    return json_response(ok({"rows": rows}, {"count": len(rows)}))


AUDIT_COLUMNS = [
    ("id", "序号"),
    ("at", "时间"),
    ("event", "事件"),
    ("username", "账户"),
    ("role", "角色"),
    ("org", "单位"),
    ("ip", "地址"),
    ("method", "方法"),
    ("path", "路径"),
    ("query", "参数"),
    ("dataset", "数据集"),
    ("rows", "行数"),
    ("status", "状态码"),
    ("purpose", "用途"),
]


@router.get(
    "/audit",
    responses={**documented(dict[str, Any]), **exported()},
    summary="search the audit log (administrator)",
)
async def audit(
    request: Request,
    actor: CurrentActor,
    user: Annotated[str | None, Query(max_length=64)] = None,
    event: Annotated[str | None, Query(max_length=32)] = None,
    dataset: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[dt.date | None, Query(description="起始日期（北京时间）")] = None,
    until: Annotated[dt.date | None, Query(description="截止日期（含当日）")] = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 100,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    format: ExportFormat = "json",
) -> Response:
    rows = await run_in_threadpool(
        lambda: sharing.audit_log(
            service_of(request),
            actor,
            user=user,
            event=event,
            dataset=dataset,
            # the first and last representable days mean "no bound" (and would overflow
            # when moved between Beijing time and UTC)
            since=since.isoformat() if since and since.year > 1 else None,
            until=until.isoformat() if until and until.year < 9999 else None,
            limit=limit,
            before_id=before,
        )
    )
    delivered(request, "audit", len(rows), "export" if format != "json" else "read")
    if format != "json":
        return Response(
            export_bytes(format, AUDIT_COLUMNS, rows),
            media_type=MEDIA[format],
            headers={"Content-Disposition": content_disposition("审计日志", format)},
        )
    nxt = rows[-1]["id"] if len(rows) == limit else None
    return json_response(ok({"rows": rows}, {"count": len(rows), "next": nxt}))


@router.get(
    "/usage",
    responses={**documented(dict[str, Any]), **exported()},
    summary="sharing usage by agency, district, dataset and month",
)
async def usage(
    request: Request,
    actor: CurrentActor,
    month: Month = None,
    format: ExportFormat = "json",
    table: Annotated[
        str,
        Query(
            pattern="^(by_org|by_district|by_dataset|by_month|ranking|rates)$",
            description="导出哪张表 / which table to export",
        ),
    ] = "by_org",
) -> Response:
    from crossinvest.access.usage import usage_rows

    data = await run_in_threadpool(lambda: sharing.usage(service_of(request), actor, month=month))
    delivered(
        request, "usage", len(data.get("by_org", [])), "export" if format != "json" else "read"
    )
    if format != "json":
        columns, rows = usage_rows(data, table)
        return Response(
            export_bytes(format, columns, rows),
            media_type=MEDIA[format],
            headers={"Content-Disposition": content_disposition("共享使用情况", format)},
        )
    return json_response(ok(data))
