"""Command line of the sharing service: ``crossinvest users``, ``keys``, ``grants``, ``audit``."""

from __future__ import annotations

from typing import Any


def register(app: Any) -> None:
    """Add the access commands to the ``crossinvest`` Typer app."""
    from crossinvest.access.cli_audit import audit_app
    from crossinvest.access.cli_grants import grants_app
    from crossinvest.access.cli_users import keys_app, users_app

    app.add_typer(users_app, name="users")
    app.add_typer(keys_app, name="keys")
    app.add_typer(grants_app, name="grants")
    app.add_typer(audit_app, name="audit")
