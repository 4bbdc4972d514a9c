"""How views answer: actor dependency, cached JSON and HTML, one read snapshot.

A view hands ``answer_json``/``answer_page`` a function of a ``Gate``. On a
cache hit nothing touches the database. On a miss the function runs in a worker
thread under one read transaction (``ServerState.snapshot``) and the result is
cached under the version seen (see ``cache.py``). Views get no connection: the
``Gate`` is their only way to data, and it authorises every read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from crossinvest.access.actor import Actor, resolve_actor
from crossinvest.access.gate import Gate
from crossinvest.web.envelope import JSON_MEDIA, dumps
from crossinvest.web.i18n import lang_of
from crossinvest.web.state import ServerState


def current_actor(request: Request) -> Actor:
    """FastAPI dependency: who is asking (see ``access.actor``).

    The fast path (``fastpath.py``) resolves the actor first and leaves it in the
    request state, so both agree on who asks.
    """
    actor = getattr(request.state, "actor", None)
    return actor if actor is not None else resolve_actor(request)


CurrentActor = Annotated[Actor, Depends(current_actor)]


def state_of(request: Request) -> ServerState:
    return request.app.state.ci


def trace_of(request: Any) -> list[tuple[str, str, int]]:
    """The request's list of dataset reads (guard, action, rows), for the audit log."""
    state = request.scope.setdefault("state", {})
    return state.setdefault("ci_reads", [])


def cache_key(request: Request, actor: Actor) -> tuple:
    """An answer's cache key: path, sorted query, language, and who may see it."""
    params = tuple(sorted((k, v) for k, v in request.query_params.multi_items() if k != "lang"))
    path = request.url.path
    who = actor.cache_key()
    if not path.startswith("/api/"):
        # A page shows who is signed in and carries the session's CSRF token:
        # pages are cached per session, API answers per role, scope and grants.
        res = request.scope.get("state", {}).get("ci_resolution")
        who += f"|{actor.id}|{(res.csrf if res is not None else None) or ''}"
    return (path, params, lang_of(request), who)


def _compute(
    state: ServerState,
    actor: Actor,
    produce: Callable[[Gate], bytes],
    key: tuple | None,
    media_type: str,
    trace: list[tuple[str, str, int]],
) -> bytes:
    seen = state.cache.version  # read before the snapshot opens (seqlock)
    open_, close = state.snapshot()
    mine: list[tuple[str, str, int]] = []
    try:
        body = produce(Gate(None, actor, opener=open_, trace=mine))
    finally:
        close()
        trace.extend(mine)
    if key is not None:
        state.cache.put(key, seen, (media_type, body, tuple(mine)))
    return body


async def answer(
    request: Request,
    actor: Actor,
    produce: Callable[[Gate], bytes],
    *,
    media_type: str,
    cache: bool = True,
    headers: dict[str, str] | None = None,
) -> Response:
    """Answer with ``produce(gate)``'s bytes, from the cache when it holds them."""
    state = state_of(request)
    key = cache_key(request, actor) if cache else None
    trace = trace_of(request)
    if key is not None:
        hit = state.cache.get(key)
        if hit is not None:
            trace.extend(hit[2])
            return Response(hit[1], media_type=hit[0], headers=headers)
    body = await run_in_threadpool(_compute, state, actor, produce, key, media_type, trace)
    return Response(body, media_type=media_type, headers=headers)


async def answer_json(
    request: Request, actor: Actor, produce: Callable[[Gate], dict[str, Any]], *, cache: bool = True
) -> Response:
    """Answer with the envelope dict ``produce(gate)`` returns."""
    return await answer(
        request, actor, lambda g: dumps(produce(g)), media_type=JSON_MEDIA, cache=cache
    )


async def answer_page(
    request: Request,
    actor: Actor,
    produce: Callable[[Gate, str], tuple[str, dict[str, Any]]],
    *,
    cache: bool = True,
) -> Response:
    """Answer with template ``name`` rendered with the context ``produce(gate, lang)`` returns."""
    from crossinvest.web.render import render

    lang = lang_of(request)

    def html(g: Gate) -> bytes:
        name, ctx = produce(g, lang)
        return render(request, name, ctx, lang, actor).encode("utf-8")

    resp = await answer(request, actor, html, media_type="text/html; charset=utf-8", cache=cache)
    q = request.query_params.get("lang")
    if q in ("zh", "en"):
        resp.set_cookie("lang", q, max_age=365 * 86400, samesite="lax")
    return resp
