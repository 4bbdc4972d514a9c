"""The analytics plugin: its tables, its refresh after every load and rollback, its commands."""

from __future__ import annotations

from crossinvest.hooks import hookimpl
from crossinvest.warehouse.migrations import Migration


def _tables(con) -> None:
    from crossinvest.analytics.tables import create_tables

    create_tables(con)


def _support(con) -> None:
    from crossinvest.analytics.support import create_tables

    create_tables(con)


def _sql_cache(con) -> None:
    from crossinvest.analytics.sqlcache import CACHE_DDL

    con.execute(CACHE_DDL)


def _origin_lookup(con) -> None:
    from crossinvest.analytics.tables import add_origin_lookup

    add_origin_lookup(con)


def _origin_tail(con) -> None:
    from crossinvest.analytics.tables import add_origin_tail

    add_origin_tail(con)


def _groups_by_key(con) -> None:
    from crossinvest.analytics.tables import add_groups_by_key

    add_groups_by_key(con)


@hookimpl
def register_migrations() -> list[Migration]:
    return [
        Migration("analytics.0001_tables", _tables),
        Migration("analytics.0002_support_regions", _support),
        Migration("analytics.0003_sql_cache", _sql_cache),
        Migration("analytics.0004_origin_lookup", _origin_lookup),
        Migration("analytics.0005_origin_tail", _origin_tail),
        Migration("analytics.0006_groups_by_key", _groups_by_key),
    ]


@hookimpl
def register_indexes() -> dict[str, tuple[str, str]]:
    from crossinvest.analytics.tables import LOOKUP_INDEXES

    return LOOKUP_INDEXES


# trylast: linkage (and anything else) updates record_links in the same hook
# first, so the figures see the links of this load.
@hookimpl(trylast=True)
def after_load(con, batch) -> None:
    from crossinvest.analytics.refresh import refresh_for_batch

    refresh_for_batch(con, batch.batch_id, batch.source, rolled_back=False)


@hookimpl(trylast=True)
def after_rollback(con, batch) -> None:
    from crossinvest.analytics.refresh import refresh_for_batch

    refresh_for_batch(con, batch.batch_id, batch.source, rolled_back=True)


@hookimpl
def register_commands(app) -> None:
    from crossinvest.analytics.cli import register

    register(app)
