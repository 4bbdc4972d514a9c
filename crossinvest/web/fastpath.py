"""The fast path: a cached answer is sent before routing, validation or dependencies run.

An ASGI middleware in front of the application. For a GET it resolves the
actor (the same ``resolve_actor`` the views' dependency uses, and leaves it in
the request state so both agree), builds the same cache key as
``respond.answer`` and, on a hit, sends the stored bytes directly. An entry only
exists for a URL that was validated, authorised and computed for an actor of
the same role and scope under the current warehouse version, so skipping those
steps changes nothing but the time taken. Requests that switch the language
(``?lang=``) take the normal path, which also sets the cookie.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from crossinvest.access.actor import resolve_actor
from crossinvest.web.respond import cache_key, trace_of


class CachedAnswers:
    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or scope["path"].startswith("/static/")
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        actor = scope.get("state", {}).get("actor") or resolve_actor(request)
        scope.setdefault("state", {})["actor"] = actor
        state = getattr(scope["app"].state, "ci", None)
        if state is None or "lang" in request.query_params:
            await self.app(scope, receive, send)
            return
        hit = state.cache.get(cache_key(request, actor))
        if hit is None:
            await self.app(scope, receive, send)
            return
        media_type, body, reads = hit
        trace_of(request).extend(reads)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", media_type.encode("latin-1")),
                    (b"content-length", str(len(body)).encode("latin-1")),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
