"""Warming the answer cache: the main pages and the API answers they show, off the request path.

After the server starts, and again after every write job, a background thread
requests the overview, the inbound and outbound pages (each also with the
penetration switch on and drilled into its first province), and every API query
those pages show (their ``data-api`` attributes), through the application itself. The
first visitor after a load then gets cached answers instead of the statistics
layer's first-run cost (compiling a query costs more than running it).
Requests go through the normal path, so they are authorised and cached exactly
as a visitor's would be.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from typing import Any

from crossinvest.access.actor import Actor

log = logging.getLogger("crossinvest.web")

PAGES = ("/", "/inbound", "/outbound")
# Each flow page is also warmed with the penetration switch on, and drilled into
# its first province (the largest): the statistics compile once per query shape,
# whatever the province, so the first drill-down into any province is then fast.
FLOW_PAGES = ("/inbound", "/outbound")
_DRILL = re.compile(r'href="(/(?:inbound|outbound)\?[^"]*province=[^"&]+)"')
WARM_ACTOR = Actor(id="warmup", name="缓存预热", role="analyst", via="internal")
_DATA_API = re.compile(r'data-api="([^"]+)"')


async def _get(app: Any, url: str, actor: Actor) -> tuple[int, bytes]:
    path, _, query = url.replace("&amp;", "&").partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"localhost"), (b"accept", b"text/html")],
        "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", 0),
        # Set in-process only (no HTTP client can put keys into the ASGI scope): the
        # cache is filled for the office's analysts; warming is not an access to audit.
        "ci_internal_actor": actor,
    }
    status, body = 0, bytearray()

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    await app(scope, receive, send)
    return status, bytes(body)


def warm_actor(app: Any) -> Actor:
    """Whom to warm for: the workstation's anonymous role if set, else the office's analysts."""
    service = getattr(app.state, "access", None)
    if service is not None:
        local = service.resolve_anonymous()
        if local.signed_in:
            return local
    return WARM_ACTOR


async def warm(app: Any) -> int:
    """Request the main pages and their API queries; return how many answered 200."""
    ok = 0
    actor = warm_actor(app)
    drills: list[str] = []
    for page in PAGES:
        status, body = await _get(app, page, actor)
        ok += status == 200
        html = body.decode("utf-8", "replace")
        ok += await _warm_apis(app, html, actor)
        if page in FLOW_PAGES:
            drills += [f"{page}?penetrate=true", *_DRILL.findall(html)[:1]]
    for page in drills:
        status, body = await _get(app, page, actor)
        ok += status == 200
        ok += await _warm_apis(app, body.decode("utf-8", "replace"), actor)
    return ok


async def _warm_apis(app: Any, html: str, actor: Actor) -> int:
    ok = 0
    for api in dict.fromkeys(_DATA_API.findall(html)):
        ok += (await _get(app, api, actor))[0] == 200
    return ok


class Warmer:
    """Runs ``warm`` in a thread; a request while one runs schedules one more run."""

    def __init__(self, app: Any, state: Any):
        self.app = app
        self.state = state
        self._lock = threading.Lock()
        self._again = False
        self._running = False

    def request(self) -> None:
        with self._lock:
            if self._running:
                self._again = True
                return
            self._running = True
            self.state.warming = True
        threading.Thread(target=self._run, name="crossinvest-warm-up", daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                asyncio.run(warm(self.app))
            except Exception:  # warming is an optimisation: never fatal
                log.exception("warm-up failed")
            with self._lock:
                if not self._again:
                    self._running = False
                    self.state.warming = False
                    return
                self._again = False
