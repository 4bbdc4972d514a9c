"""The access layer as a plugin: ``GET /api/v1/me`` says who the server takes you for.

Authorisation itself needs no hook: every read goes through ``access.gate.Gate``.
"""

from __future__ import annotations

from typing import Any

from crossinvest.hooks import hookimpl


@hookimpl
def register_routes(app: Any) -> None:
    from crossinvest.access.routes import router

    app.include_router(router)
