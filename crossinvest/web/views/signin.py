"""登录 / 退出: the sign-in page, sign-out, and ``POST /api/v1/session`` for scripts.

The session cookie is HttpOnly, SameSite=Lax and Secure (unless the operator
set ``cookie_secure`` false for a plain-HTTP pilot). The sign-in form carries a
double-submit CSRF token (a cookie and a hidden field that must agree), since
there is no session yet to bind one to.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from crossinvest.access import sharing
from crossinvest.access.service import CSRF_COOKIE, SESSION_COOKIE
from crossinvest.web.envelope import ApiError, json_response, ok
from crossinvest.web.guard import client_ip
from crossinvest.web.i18n import lang_of
from crossinvest.web.models import documented
from crossinvest.web.respond import CurrentActor

router = APIRouter()

REFUSAL_STATUS = {"bad_credentials": 401, "slowed": 429, "locked": 423, "disabled": 403}


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an absolute or protocol-relative URL."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _service(request: Request) -> Any:
    return request.app.state.access


def _secure(request: Request) -> bool:
    return bool(_service(request).settings.get("cookie_secure", True))


def _set_session(request: Request, resp: Response, token: str) -> None:
    hours = int(_service(request).settings.get("session_hours", 8))
    resp.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=hours * 3600,
        httponly=True,
        secure=_secure(request),
        samesite="lax",
        path="/",
    )


def _login_page(
    request: Request, *, error: str | None = None, status: int = 200, username: str = ""
) -> HTMLResponse:
    from crossinvest.web.render import render

    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    lang = lang_of(request)
    html = render(
        request,
        "login.html",
        {
            "csrf": csrf,
            "next": _safe_next(request.query_params.get("next")),
            "error": error,
            "username": username,
            "insecure": _secure(request)
            and request.url.scheme != "https"
            and (request.client.host if request.client else "") not in ("127.0.0.1", "::1"),
        },
        lang,
        request.state.actor,
    )
    resp = HTMLResponse(html, status_code=status)
    resp.set_cookie(
        CSRF_COOKIE, csrf, httponly=True, secure=_secure(request), samesite="strict", path="/login"
    )
    return resp


@router.get("/login", include_in_schema=False)
async def login_page(request: Request) -> Response:
    return _login_page(request)


@router.post("/login", include_in_schema=False)
async def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    from crossinvest.access.accounts import SignInRefused

    request.state.ci_audited = True  # sign_in / sign_in_failed are recorded by the service
    cookie = request.cookies.get(CSRF_COOKIE, "")
    en = lang_of(request) == "en"
    if not (cookie and csrf_token and hmac.compare_digest(cookie, csrf_token)):
        msg = "Form expired: please try again" if en else "表单已过期，请重新登录"
        return _login_page(request, error=msg, status=403, username=username)
    try:
        token, _csrf, _user = sharing.sign_in(
            _service(request),
            username,
            password,
            ip=client_ip(request.scope),
            user_agent=request.headers.get("user-agent"),
        )
    except SignInRefused as e:
        resp = _login_page(
            request,
            error=e.message_en if en else e.message,
            status=REFUSAL_STATUS.get(e.code, 401),
            username=username,
        )
        if e.retry_after:
            resp.headers["Retry-After"] = str(e.retry_after)
        return resp
    done = RedirectResponse(_safe_next(next), status_code=303)
    _set_session(request, done, token)
    done.delete_cookie(CSRF_COOKIE, path="/login")
    return done


@router.post("/logout", include_in_schema=False)
async def logout(request: Request, actor: CurrentActor) -> Response:
    request.state.ci_audited = True
    if actor.signed_in:
        sharing.sign_out(
            _service(request),
            actor,
            request.cookies.get(SESSION_COOKIE),
            ip=client_ip(request.scope),
        )
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


class SignIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


@router.post(
    "/api/v1/session",
    tags=["access 权限"],
    responses=documented(dict[str, Any], 423, 429),
    summary="sign in (sets the session cookie; returns the CSRF token)",
)
async def session_api(request: Request, body: SignIn) -> Response:
    from crossinvest.access.accounts import SignInRefused

    request.state.ci_audited = True
    try:
        token, csrf, user = sharing.sign_in(
            _service(request),
            body.username,
            body.password,
            ip=client_ip(request.scope),
            user_agent=request.headers.get("user-agent"),
        )
    except SignInRefused as e:
        err = ApiError(REFUSAL_STATUS.get(e.code, 401), e.code, e.message, e.message_en)
        from crossinvest.web.envelope import fail

        resp = json_response(fail(err), err.status)
        if e.retry_after:
            resp.headers["Retry-After"] = str(e.retry_after)
        return resp
    resp = json_response(ok({"user": user.as_json(), "csrf_token": csrf}))
    _set_session(request, resp, token)
    return resp
