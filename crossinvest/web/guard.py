"""The outermost middleware: sign-in required, CSRF checked, every request audited.

In front of everything (even the cached fast path), so that no answer leaves
without an actor, and none leaves unrecorded:

- the actor is resolved once (``AccessService``) and left in the request state;
- without credentials only the public paths answer (sign-in page, static
  assets, the API description); a page redirects to ``/login``, an API call
  gets 401 in the envelope (with the reason when an API key is expired or revoked);
- a state-changing request made with a session cookie must carry the session's
  CSRF token (``X-CSRF-Token`` header, or ``csrf_token`` in the query of a form's
  action); API keys are not sent by browsers and need none;
- after the answer, one audit row: who, what path and query, which datasets,
  how many rows, the status and the purpose (``X-Purpose`` header, else the
  purpose of the grant that allowed the read).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from starlette.requests import Request

from crossinvest.access.catalogue import BY_NAME
from crossinvest.web.envelope import ApiError, dumps, fail

PUBLIC_PREFIXES = ("/static/", "/login", "/api/v1/openapi.json", "/api/docs", "/favicon")
PUBLIC_PATHS = frozenset({"/api/v1/me", "/api/v1/health", "/api/v1/session", "/logout"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Query parameters never written to the audit log.
UNLOGGED_PARAMS = frozenset({"csrf_token"})


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def client_ip(scope: Mapping[str, Any]) -> str | None:
    client = scope.get("client")
    return client[0] if client else None


async def _send_json(send: Any, status: int, err: ApiError, headers: list | None = None) -> None:
    body = dumps(fail(err))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _redirect(send: Any, location: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [(b"location", location.encode("latin-1")), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})


def audit_fields(scope: dict, request: Request, status: int) -> tuple[str, dict[str, Any]]:
    """The event name and fields of the audit row for one finished request."""
    state = scope.get("state", {})
    res = state.get("ci_resolution")
    reads: list[tuple[str, str, int]] = state.get("ci_reads", [])
    catalogued = [r for r in reads if r[0] in BY_NAME] or reads
    dataset = catalogued[0][0] if catalogued else None
    exported = any(action == "export" for _, action, _ in reads)
    purpose = request.headers.get("x-purpose")
    if not purpose and res is not None and dataset:
        purpose = dict(res.purposes).get(dataset)
    query = urlencode(
        [
            (k, v)
            for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1"))
            if k not in UNLOGGED_PARAMS
        ]
    )
    method = scope["method"]
    event = "export" if exported else ("read" if method in SAFE_METHODS else "query")
    fields: dict[str, Any] = {
        "actor": state.get("actor"),
        "ip": client_ip(scope),
        "method": method,
        "path": scope["path"],
        "query": query or None,
        "dataset": dataset,
        "rows": sum(r[2] for r in reads) if reads else None,
        "status": status,
        "purpose": purpose,
    }
    if len({r[0] for r in reads}) > 1:
        fields["detail"] = {"reads": [list(r) for r in reads]}
    return event, fields


class AccessGuard:
    """ASGI middleware; needs ``app.state.access`` (an ``AccessService``)."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        service = getattr(scope["app"].state, "access", None)
        path = scope["path"]
        if path.startswith("/static/"):
            await self.app(scope, receive, send)
            return
        if service is None:  # fail closed: never answer without knowing who asks
            err = ApiError(503, "unavailable", "服务尚未就绪", "service not ready")
            await _send_json(send, 503, err)
            return
        request = Request(scope)
        state = scope.setdefault("state", {})
        internal = scope.get("ci_internal_actor")
        if internal is not None:  # in-process caller (cache warm-up): no HTTP client can set it
            state["actor"] = internal
            await self.app(scope, receive, send)
            return
        from crossinvest.access.actor import resolve_actor

        actor = resolve_actor(request)  # test resolvers first, then the service
        res = service.resolution(request)
        state["actor"] = actor
        state["ci_resolution"] = res
        state.setdefault("ci_reads", [])
        if not actor.signed_in and not is_public(path):
            await self._refuse_anonymous(scope, request, send, res)
            return
        if (
            scope["method"] not in SAFE_METHODS
            and actor.via == "session"
            and not path.startswith("/login")
            and path != "/api/v1/session"
        ):
            given = request.headers.get("x-csrf-token") or request.query_params.get("csrf_token")
            if not (given and res.csrf and hmac.compare_digest(given, res.csrf)):
                err = ApiError(
                    403,
                    "csrf",
                    "CSRF 校验失败：请刷新页面后重试",
                    "CSRF token missing or wrong: reload the page and retry",
                )
                await _send_json(send, 403, err)
                self._audit(service, scope, request, 403)
                return
        status_box = [500]

        async def send_and_watch(message: dict) -> None:
            if message["type"] == "http.response.start":
                status_box[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            if not state.get("ci_audited"):
                self._audit(service, scope, request, status_box[0])

    async def _refuse_anonymous(self, scope: dict, request: Request, send: Any, res: Any) -> None:
        wants_page = not scope["path"].startswith("/api/") and scope["method"] in SAFE_METHODS
        service = scope["app"].state.access
        if wants_page:
            target = scope["path"] + (
                "?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else ""
            )
            await _redirect(send, "/login?next=" + quote(target, safe=""))
            self._audit(service, scope, request, 303)
            return
        if res.refusal is not None:
            code, message, message_en = res.refusal
            err = ApiError(401, f"key_{code}", message, message_en)
        else:
            err = ApiError(
                401,
                "unauthorized",
                "需要登录：页面请先登录，接口请在 Authorization 头中提供 API 密钥",
                "sign-in required: sign in, or send an API key as 'Authorization: Bearer <key>'",
            )
        await _send_json(send, 401, err, [(b"www-authenticate", b'Bearer realm="crossinvest"')])
        self._audit(service, scope, request, 401)

    @staticmethod
    def _audit(service: Any, scope: dict, request: Request, status: int) -> None:
        event, fields = audit_fields(scope, request, status)
        service.audit(event, **fields)
