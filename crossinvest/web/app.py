"""The FastAPI application: pages, the JSON API under /api/v1, static assets.

Every page and API module registers itself through the ``register_routes`` hook,
exactly as an extension would (the datasette pattern); ``create_app`` only sets
up state, error handling, static files and the API documentation.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from crossinvest.access.service import AccessService
from crossinvest.config import Home, current_home
from crossinvest.plugins import get_plugin_manager
from crossinvest.web.envelope import install_handlers
from crossinvest.web.fastpath import CachedAnswers
from crossinvest.web.guard import AccessGuard
from crossinvest.web.state import ServerState
from crossinvest.web.warmup import Warmer

STATIC = Path(__file__).parent / "static"
API_PREFIX = "/api/v1"

DESCRIPTION = """各地来沪投资与上海在外地投资数据接口。

每个回答都是同一个信封 / every answer is one envelope:
`{"ok": true, "data": ..., "meta": {...}, "error": null}`；
出错时 / on error `{"ok": false, "data": null, "error": {"code", "message", "message_en"}}`
并带 4xx 状态码。口径见 /definitions。列表按键分页：`meta.next` 为下一页的 `cursor`。
"""


def create_app(
    home: Home | None = None,
    *,
    state: ServerState | None = None,
    token: str | None = None,
    inbox_interval: float | None = 5.0,
    warm: bool = False,
) -> FastAPI:
    """The web application over ``home`` (default: ``CROSSINVEST_HOME``).

    The warehouse is opened read-write when the app starts (lifespan) and the
    writer thread and inbox watcher run until it stops. Pass ``state`` to share
    an already open one (tests, benchmarks). ``warm`` fills the answer cache with
    the main pages after start and after every write (``warmup.py``).
    """
    own_state = state is None

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if own_state:
            app.state.ci = ServerState.open(
                home or current_home(), token=token, inbox_interval=inbox_interval
            )
        if getattr(app.state, "access", None) is None:
            app.state.access = AccessService(app.state.ci.home, server_token=app.state.ci.token)
        if warm:
            warmer = Warmer(app, app.state.ci)
            app.state.ci.after_write.append(warmer.request)
            warmer.request()
        try:
            yield
        finally:
            if own_state:
                app.state.access.close()
                app.state.access = None
                app.state.ci.close()

    app = FastAPI(
        title="crossinvest",
        version="1",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url=f"{API_PREFIX}/openapi.json",
        lifespan=lifespan,
    )
    if state is not None:
        app.state.ci = state
        app.state.access = AccessService(state.home, server_token=state.token)
    install_handlers(app)
    app.add_middleware(CachedAnswers)
    # Added last, so outermost: sign-in, CSRF and the audit trail cover even cached answers.
    app.add_middleware(AccessGuard)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/docs", include_in_schema=False)
    async def api_docs() -> HTMLResponse:
        # FastAPI's default page loads Swagger UI from a CDN; ours is served locally.
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "",
            title="crossinvest API",
            swagger_js_url="/static/vendor/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
            swagger_ui_parameters={"validatorUrl": None},
        )

    get_plugin_manager().hook.register_routes(app=app)
    _document_security(app)
    return app


def _document_security(app: FastAPI) -> None:
    """Declare the two ways to authenticate in the OpenAPI document."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schema.setdefault("components", {})["securitySchemes"] = {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "接口密钥 / API key: Authorization: Bearer cik_…",
                },
                "session": {"type": "apiKey", "in": "cookie", "name": "ci_session"},
            }
            schema["security"] = [{"apiKey": []}, {"session": []}]
            from crossinvest.web.guard import is_public

            for path, ops in schema.get("paths", {}).items():
                if is_public(path):  # answers without credentials (sign-in, health, me)
                    for op in ops.values():
                        op["security"] = []
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
