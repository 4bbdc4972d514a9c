"""Schema migrations as named functions, each recorded once in ``_migrations``.

The sqlite-utils pattern: a migration is a plain function with a unique name;
``migrate`` runs, in order, the ones a warehouse has not seen and records them.
Plugins contribute theirs through the ``register_migrations`` hook.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from crossinvest.warehouse.connection import run, transaction


@dataclass(frozen=True)
class Migration:
    name: str
    apply: Callable[[duckdb.DuckDBPyConnection], None]


def all_migrations() -> list[Migration]:
    from crossinvest.plugins import get_plugin_manager

    pm = get_plugin_manager()
    out: list[Migration] = []
    seen: set[str] = set()
    # pluggy calls the most recently registered first; reverse to keep plugin order.
    for batch in reversed(pm.hook.register_migrations()):
        for m in batch or []:
            if m.name in seen:
                raise ValueError(f"duplicate migration name {m.name!r}")
            seen.add(m.name)
            out.append(m)
    return out


def applied(con: duckdb.DuckDBPyConnection) -> list[str]:
    run(
        con,
        "CREATE TABLE IF NOT EXISTS _migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP)",
    )
    return [
        r[0] for r in run(con, "SELECT name FROM _migrations ORDER BY applied_at, name").fetchall()
    ]


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply pending migrations; return the names applied now."""
    done = set(applied(con))
    now: list[str] = []
    for m in all_migrations():
        if m.name in done:
            continue
        with transaction(con):
            m.apply(con)
            run(con, "INSERT INTO _migrations VALUES (?, now())", [m.name])
        now.append(m.name)
    return now
