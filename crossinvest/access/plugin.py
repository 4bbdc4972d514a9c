"""The access layer as a plugin: sign-in, the sharing pages and API, and their commands.

Authorisation itself needs no hook: every read goes through ``access.gate.Gate``,
and every request through ``web.guard.AccessGuard``.
"""

from __future__ import annotations

from typing import Any

from crossinvest.hooks import hookimpl


@hookimpl
def register_routes(app: Any) -> None:
    from crossinvest.access.routes import router
    from crossinvest.web.views import api_sharing, sharing, signin

    for r in (router, signin.router, api_sharing.router, sharing.router):
        app.include_router(r)

    from crossinvest.access.sharing import SharingError
    from crossinvest.web.envelope import api_error_handler

    async def refused(request: Any, exc: SharingError) -> Any:
        return await api_error_handler(request, api_sharing.refused(exc))

    app.add_exception_handler(SharingError, refused)


@hookimpl
def register_commands(app: Any) -> None:
    from crossinvest.access.cli import register

    register(app)
