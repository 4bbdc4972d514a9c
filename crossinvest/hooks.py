"""Plugin hooks: how the parts of crossinvest join up.

Built-in features register through the same hooks an extension would use (the
datasette pattern): the warehouse core knows nothing of statistics or linkage;
those modules implement ``after_load``/``after_rollback`` to refresh their tables
inside the load's own transaction, so figures are never stale nor half-updated.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("crossinvest")
hookimpl = pluggy.HookimplMarker("crossinvest")


@hookspec
def register_migrations():  # type: ignore[empty-body]
    """Return a list of ``warehouse.migrations.Migration`` this plugin needs.

    Names must be unique across plugins; each runs once per warehouse and is
    recorded in the ``_migrations`` table.
    """


@hookspec
def register_indexes():  # type: ignore[empty-body]
    """Return ``{index name: (table, column)}``: the lookup indexes the plugin's tables need.

    Indexes are derived data: ``warehouse.lookups.ensure_indexes`` creates any that
    are missing, each in its own transaction, when the warehouse opens and after a
    load, a rollback or a rebuild commits.
    """


@hookspec
def after_load(con, batch):  # type: ignore[empty-body]
    """Called inside the load transaction after a batch's rows are in place.

    ``batch`` is a ``warehouse.batches.Batch``. Raise to abort the whole load.
    """


@hookspec
def after_rollback(con, batch):  # type: ignore[empty-body]
    """Called inside the rollback transaction after a batch's rows are removed."""


@hookspec
def register_commands(app):  # type: ignore[empty-body]
    """Add Typer commands to the ``crossinvest`` command line."""


@hookspec
def register_routes(app):  # type: ignore[empty-body]
    """Add FastAPI routers (API and pages) to the web application."""
