"""共享目录, 使用情况 and 管理 pages: what partners may ask for, who used what, and the admin's desk.

Forms post back here (with the session's CSRF token in the action URL, checked
by ``web.guard``) and redirect to the page with a message, so a reload never
repeats a change.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from crossinvest.access import sharing
from crossinvest.access.actor import ROLE_NAMES
from crossinvest.access.catalogue import BY_NAME, requestable
from crossinvest.access.gate import Gate
from crossinvest.web.guard import client_ip
from crossinvest.web.respond import CurrentActor, answer_page
from crossinvest.web.views.api_sharing import AUDIT_COLUMNS, Month, read_catalogue, service_of

router = APIRouter(include_in_schema=False)


def _back(path: str, *, done: str | None = None, error: str | None = None) -> RedirectResponse:
    q = f"?done={quote(done)}" if done else f"?error={quote(error)}" if error else ""
    return RedirectResponse(path + q, status_code=303)


def _district_codes(text: str) -> list[str] | None:
    """Codes typed into a form, separated by commas (either width) or spaces."""
    return [c for c in text.replace("，", ",").replace(" ", ",").split(",") if c] or None


def _flash(request: Request) -> dict[str, str | None]:
    return {
        "done": request.query_params.get("done"),
        "error": request.query_params.get("error"),
    }


@router.get("/catalogue")
async def catalogue_page(request: Request, actor: CurrentActor) -> Response:
    svc = service_of(request)

    def produce(g: Gate, lang: str) -> tuple[str, dict[str, Any]]:
        data = read_catalogue(g, svc)
        mine = sharing.requests(svc, g.actor) if g.actor.can("requests") else []
        return "catalogue.html", {**data, "mine": mine, **_flash(request)}

    return await answer_page(request, actor, produce, cache=False)


@router.post("/catalogue/request")
async def catalogue_request(
    request: Request,
    actor: CurrentActor,
    dataset: Annotated[str, Form(max_length=64)],
    purpose: Annotated[str, Form(max_length=500)] = "",
    days: Annotated[int, Form(ge=1, le=366)] = 90,
) -> Response:
    request.state.ci_audited = True
    try:
        req = await run_in_threadpool(
            lambda: sharing.file_request(
                service_of(request), actor, dataset, purpose, days, ip=client_ip(request.scope)
            )
        )
    except sharing.SharingError as e:
        return _back("/catalogue", error=e.message)
    return _back("/catalogue", done=f"申请已提交（编号 {req['id']}），等待审批")


@router.get("/usage")
async def usage_page(request: Request, actor: CurrentActor, month: Month = None) -> Response:
    svc = service_of(request)

    def produce(g: Gate, lang: str) -> tuple[str, dict[str, Any]]:
        data = sharing.usage(svc, g.actor, month=month)
        g.trace.append(("usage", "read", len(data.get("by_org", []))))
        shown = month or data.get("month") or ""
        y, m = (int(x) for x in shown.split("-")) if shown else (0, 0)
        prev = f"{y - (m == 1)}-{12 if m == 1 else m - 1:02d}" if shown else None
        return "usage.html", {"u": data, "month": shown, "prev_month": prev}

    return await answer_page(request, actor, produce, cache=False)


@router.get("/admin")
async def admin_page(request: Request, actor: CurrentActor) -> Response:
    svc = service_of(request)

    def produce(g: Gate, lang: str) -> tuple[str, dict[str, Any]]:
        users = sharing.users(svc, g.actor)
        ctx = {
            "users": users,
            "keys": sharing.keys(svc, g.actor),
            "pending": sharing.requests(svc, g.actor, status="pending"),
            "decided": [r for r in sharing.requests(svc, g.actor) if r["status"] != "pending"][:50],
            "grants": sharing.grants(svc, g.actor),
            "roles": {k: v for k, v in ROLE_NAMES.items() if k not in ("viewer", "anonymous")},
            "datasets": list(BY_NAME.values()),
            "requestable": requestable(),
            "new_key": request.query_params.get("key"),
            **_flash(request),
        }
        g.trace.append(("admin", "read", len(users)))
        return "admin.html", ctx

    return await answer_page(request, actor, produce, cache=False)


async def _admin_do(request: Request, fn: Any, done: str) -> Response:
    request.state.ci_audited = True
    try:
        await run_in_threadpool(fn)
    except sharing.SharingError as e:
        return _back("/admin", error=e.message)
    return _back("/admin", done=done)


@router.post("/admin/users")
async def admin_create_user(
    request: Request,
    actor: CurrentActor,
    username: Annotated[str, Form(max_length=64)],
    role: Annotated[str, Form(max_length=16)],
    display_name: Annotated[str, Form(max_length=100)] = "",
    org: Annotated[str, Form(max_length=100)] = "",
    districts: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    codes = _district_codes(districts)
    return await _admin_do(
        request,
        lambda: sharing.create_user(
            service_of(request),
            actor,
            ip=client_ip(request.scope),
            username=username,
            role=role,
            password=password or None,
            display_name=display_name or None,
            org=org or None,
            districts=codes,
        ),
        f"已创建账户 {username}",
    )


@router.post("/admin/users/{username}")
async def admin_update_user(
    request: Request,
    actor: CurrentActor,
    username: str,
    action: Annotated[str, Form(pattern="^(disable|enable|unlock|update)$")],
    role: Annotated[str, Form(max_length=16)] = "",
    org: Annotated[str, Form(max_length=100)] = "",
    districts: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    svc, ip = service_of(request), client_ip(request.scope)
    if action == "update":
        codes = _district_codes(districts)
        return await _admin_do(
            request,
            lambda: sharing.update_user(
                svc,
                actor,
                username,
                ip=ip,
                role=role,
                org=org or None,
                districts=codes,
            ),
            f"已修改 {username} 的角色与辖区",
        )
    if action == "unlock":
        return await _admin_do(
            request, lambda: sharing.unlock_user(svc, actor, username, ip=ip), f"已解锁 {username}"
        )
    disabled = action == "disable"
    return await _admin_do(
        request,
        lambda: sharing.update_user(svc, actor, username, ip=ip, disabled=disabled),
        f"已{'停用' if disabled else '启用'} {username}",
    )


@router.post("/admin/keys")
async def admin_create_key(
    request: Request,
    actor: CurrentActor,
    username: Annotated[str, Form(max_length=64)],
    name: Annotated[str, Form(max_length=100)],
    datasets: Annotated[list[str], Form()],
    days: Annotated[int, Form(ge=1, le=366)] = 90,
) -> Response:
    request.state.ci_audited = True
    try:
        plain, _key = await run_in_threadpool(
            lambda: sharing.create_key(
                service_of(request),
                actor,
                username,
                name=name,
                datasets=datasets,
                days=days,
                ip=client_ip(request.scope),
            )
        )
    except sharing.SharingError as e:
        return _back("/admin", error=e.message)
    # Shown once, on the page the administrator is looking at; never stored in clear.
    return RedirectResponse(f"/admin?key={quote(plain)}#keys", status_code=303)


@router.post("/admin/keys/{key}/revoke")
async def admin_revoke_key(request: Request, actor: CurrentActor, key: str) -> Response:
    svc, ip = service_of(request), client_ip(request.scope)
    return await _admin_do(
        request, lambda: sharing.revoke_key(svc, actor, key, ip=ip), f"已吊销密钥 {key}"
    )


@router.post("/admin/requests/{request_id}")
async def admin_decide(
    request: Request,
    actor: CurrentActor,
    request_id: int,
    decision: Annotated[str, Form(pattern="^(approve|reject)$")],
    reason: Annotated[str, Form(max_length=500)] = "",
    days: Annotated[int | None, Form(ge=1, le=366)] = None,
) -> Response:
    svc, ip = service_of(request), client_ip(request.scope)
    approve = decision == "approve"
    return await _admin_do(
        request,
        lambda: sharing.decide(
            svc, actor, request_id, approve=approve, reason=reason, days=days, ip=ip
        ),
        f"申请 {request_id} 已{'批准' if approve else '驳回'}",
    )


@router.post("/admin/grants/{grant_id}/revoke")
async def admin_revoke_grant(request: Request, actor: CurrentActor, grant_id: int) -> Response:
    svc, ip = service_of(request), client_ip(request.scope)
    return await _admin_do(
        request,
        lambda: sharing.revoke_grant(svc, actor, grant_id, ip=ip),
        f"授权 {grant_id} 已收回",
    )


@router.get("/admin/audit")
async def audit_page(
    request: Request,
    actor: CurrentActor,
    user: Annotated[str | None, Query(max_length=64)] = None,
    event: Annotated[str | None, Query(max_length=32)] = None,
    dataset: Annotated[str | None, Query(max_length=64)] = None,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    svc = service_of(request)
    filters = {"user": user, "event": event, "dataset": dataset}

    def produce(g: Gate, lang: str) -> tuple[str, dict[str, Any]]:
        rows = sharing.audit_log(svc, g.actor, limit=200, before_id=before, **filters)
        g.trace.append(("audit", "read", len(rows)))
        return "audit.html", {
            "rows": rows,
            "columns": AUDIT_COLUMNS,
            "filters": filters,
            "next": rows[-1]["id"] if len(rows) == 200 else None,
        }

    return await answer_page(request, actor, produce, cache=False)
