"""The linkage plugin: its tables, its part in every load and rollback, its commands.

``after_load``/``after_rollback`` are ``tryfirst``: the links of a load must be
in place before the statistics refresh (analytics, ``trylast``) reads
``tax_linked``/``stats_linked`` in the same transaction.
"""

from __future__ import annotations

from crossinvest.hooks import hookimpl
from crossinvest.warehouse.migrations import Migration


def _m0001(con) -> None:
    from crossinvest.linkage.lifecycle import migrate_0001

    migrate_0001(con)


@hookimpl
def register_migrations() -> list[Migration]:
    return [Migration("linkage.0001_tables", _m0001)]


@hookimpl(tryfirst=True)
def after_load(con, batch) -> None:
    from crossinvest.linkage.lifecycle import on_load

    on_load(con, batch.batch_id, batch.source)


@hookimpl(tryfirst=True)
def after_rollback(con, batch) -> None:
    from crossinvest.linkage.lifecycle import on_rollback

    on_rollback(con, batch.batch_id, batch.source)


@hookimpl
def register_commands(app) -> None:
    from crossinvest.linkage.cli import links_app

    app.add_typer(links_app, name="links")
