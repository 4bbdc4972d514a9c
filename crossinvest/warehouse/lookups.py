"""Reading one enterprise's rows out of tables of millions, through ART indexes.

Pages and the API look enterprises up by key (a profile, an ownership chain, the
page of an enterprise list). Without an index each lookup is a scan of the key
column: 0.2-0.7 s per table at 10M enterprises, 25M holdings and 80M tax rows.
With an ART index it is about 1 ms.

DuckDB uses an index only when the key predicate (``=`` or ``IN`` with
constants) is the *only* filter on the table scan: any further filter on the
same scan makes it read the whole table (measured: 300 keys of 11M rows, 0.04 s
against 0.52 s). ``by_keys`` therefore reads the keyed rows in a ``MATERIALIZED``
CTE and the caller filters those. ``tests/test_lookups.py`` checks on the query
plans that every lookup the web uses is an index scan.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any

import duckdb

from crossinvest.warehouse.connection import WarehouseSQLError, fetch_dicts, run, transaction

log = logging.getLogger(__name__)

# index name -> (table, column), for the base tables; plugins add their own
# tables' through the register_indexes hook (analytics.tables.LOOKUP_INDEXES).
BASE_INDEXES: dict[str, tuple[str, str]] = {
    "ix_registry_rows_key": ("registry_rows", "enterprise_key"),
    "ix_shareholders_rows_enterprise": ("shareholders_rows", "enterprise_uscc"),
    "ix_tax_rows_key": ("tax_rows", "taxpayer_key"),
    "ix_stats_rows_key": ("stats_rows", "unit_key"),
    "ix_record_links_enterprise": ("record_links", "enterprise_key"),
}


def all_indexes() -> dict[str, tuple[str, str]]:
    """Every lookup index the core and the plugins ask for (``register_indexes``)."""
    from crossinvest.plugins import get_plugin_manager

    out: dict[str, tuple[str, str]] = {}
    # pluggy calls the most recently registered first: reversed, the core's come
    # first, and they go first when the memory budget cannot hold every index.
    for batch in reversed(get_plugin_manager().hook.register_indexes()):
        out.update(batch or {})
    return out


def ensure_indexes(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create the lookup indexes that are missing, each in its own transaction; return their names.

    Only those that fit the memory budget (``affordable``); one that no longer fits
    (its table grew) is dropped.

    Called outside any transaction: when the warehouse opens, and after a load, a
    rollback or a rebuild commits. One index at a time, because an index being
    built stays in memory until its transaction ends: building the base tables'
    indexes together ran out of the 2.5 GB limit at 80M tax rows, one by one they
    fit. Until an index exists its lookups are scans: slower, never wrong.
    """
    have = {r[0] for r in run(con, "SELECT index_name FROM duckdb_indexes()").fetchall()}
    declared = all_indexes()
    wanted = affordable(con, declared)
    drop_indexes(con, {n: tc for n, tc in declared.items() if n in have and n not in wanted})
    made = []
    for name, (table, column) in wanted.items():
        if name in have:
            continue
        try:
            with transaction(con):
                run(con, f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ("{column}")')
        except WarehouseSQLError as e:
            # An ART index must fit in the memory limit while it is built; the budget
            # (``affordable``) is an estimate, and other work shares the memory. The
            # data is committed already: without the index its lookups scan, so say
            # so and go on rather than fail the load that called us.
            log.warning("lookup index %s on %s(%s) not built: %s", name, table, column, e.short)
            continue
        made.append(name)
    return made


# Memory an ART index takes per key while it is built or changed (measured: 8M
# 18-character keys did not fit in 286 MB), and the share of the connection's
# memory limit all lookup indexes together may take. A commit applies the
# transaction's changes to the indexes of every table it touched, in memory: at
# 10M enterprises, with every index built (~230M keys), the commit of a 1 %
# shareholders delivery ran out of the 2.5 GB limit. Indexes beyond the budget
# are not built; their lookups scan.
BYTES_PER_KEY = 40
BUDGET_SHARE = 0.25


def memory_limit_bytes(con: duckdb.DuckDBPyConnection) -> int:
    """The connection's memory limit in bytes (DuckDB reports it as e.g. '2.3 GiB')."""
    text = run(con, "SELECT current_setting('memory_limit')").fetchall()[0][0]
    m = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?i?B)\s*", str(text))
    if not m:
        return 2500 * 1000**2
    unit = m.group(2)
    base = 1024 if "i" in unit else 1000
    power = {"B": 0, "K": 1, "M": 2, "G": 3, "T": 4}[unit[0]]
    return int(float(m.group(1)) * base**power)


def table_rows(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Each table's row count as DuckDB estimates it (no scan)."""
    return {
        t: int(n or 0)
        for t, n in run(con, "SELECT table_name, estimated_size FROM duckdb_tables()").fetchall()
    }


def affordable(
    con: duckdb.DuckDBPyConnection, indexes: dict[str, tuple[str, str]]
) -> dict[str, tuple[str, str]]:
    """The indexes to keep, in their declared order, while their keys fit the budget."""
    sizes = table_rows(con)
    budget = BUDGET_SHARE * memory_limit_bytes(con)
    out, used = {}, 0.0
    for name, (table, column) in indexes.items():
        need = BYTES_PER_KEY * sizes.get(table, 0)
        if used + need <= budget:
            out[name] = (table, column)
            used += need
    return out


def drop_indexes(con: duckdb.DuckDBPyConnection, indexes: dict[str, tuple[str, str]]) -> None:
    """Drop these indexes (before rewriting whole tables; ``ensure_indexes`` builds them again)."""
    for name in indexes:
        run(con, f'DROP INDEX IF EXISTS "{name}"')


# A load adding more rows than this share of its table's rows drops the table's
# indexes and builds them again after the commit: one bulk build costs less than
# maintaining an index row by row, and a transaction's index changes stay in memory.
BULK_SHARE = 0.2


def drop_indexes_for_bulk(con: duckdb.DuckDBPyConnection, table: str, new_rows: int) -> list[str]:
    """Before a load's transaction: drop ``table``'s lookup indexes if ``new_rows`` is a bulk load."""
    if new_rows <= BULK_SHARE * table_rows(con).get(table, 0):
        return []
    mine = {n: tc for n, tc in all_indexes().items() if tc[0] == table}
    drop_indexes(con, mine)
    return list(mine)


def by_keys(table: str, column: str, n: int, columns: str = "*") -> str:
    """SQL reading the rows of ``table`` whose ``column`` is one of ``n`` parameters.

    Use it as a ``MATERIALIZED`` CTE so that no other filter joins the scan::

        f"WITH e AS MATERIALIZED ({by_keys('registry_rows', 'enterprise_key', 2)}) "
        "SELECT * FROM e WHERE is_current"
    """
    if n < 1:
        raise ValueError("by_keys needs at least one key")
    holes = ", ".join("?" for _ in range(n))
    return f'SELECT {columns} FROM "{table}" WHERE "{column}" IN ({holes})'


def by_key_range(table: str, column: str, n: int, columns: str = "*") -> str:
    """SQL reading the rows of ``table``, stored in ``column`` order, whose ``column`` is one of ``n`` parameters.

    The parameters are ``key_range_params(keys)``: the keys, then the least and
    the greatest. The range is a filter inside the scan: DuckDB skips the row
    groups outside it by their min/max and hands the IN list's join only the
    range's rows (an enterprise list's page at 10M: 32 ms against 43 ms with the
    IN list alone, which joins every row of the row groups it reads). For tables
    without that order, or read through an ART index, use ``by_keys``: any other
    filter on the scan stops DuckDB from using the index.

    >>> by_key_range("an_yearly", "enterprise_key", 2, "year")
    'SELECT year FROM "an_yearly" WHERE "enterprise_key" IN (?, ?) AND "enterprise_key" BETWEEN ? AND ?'
    """
    return f'{by_keys(table, column, n, columns)} AND "{column}" BETWEEN ? AND ?'


def key_range_params(keys: Sequence[str]) -> list[str]:
    """Parameters of ``by_key_range`` for ``keys``.

    >>> key_range_params(["b", "a"])
    ['b', 'a', 'a', 'b']
    """
    return [*keys, min(keys), max(keys)]


def fetch_by_keys(
    con: duckdb.DuckDBPyConnection,
    table: str,
    column: str,
    keys: Iterable[str],
    *,
    columns: str = "*",
    where: str = "TRUE",
    params: Sequence[Any] = (),
    order_by: str | None = None,
) -> list[dict[str, Any]]:
    """Rows of ``table`` with ``column`` in ``keys``, then filtered by ``where`` (alias ``k``).

    >>> fetch_by_keys(con, "registry_rows", "enterprise_key", ["9131…"], where="k.is_current")
    """
    ks = sorted(set(keys))
    if not ks:
        return []
    order = f" ORDER BY {order_by}" if order_by else ""
    return fetch_dicts(
        con,
        f"WITH k AS MATERIALIZED ({by_keys(table, column, len(ks), columns)}) "
        f"SELECT * FROM k WHERE {where}{order}",
        [*ks, *params],
    )


# The record sources tied to enterprises by USCC or by record_links, as in the
# warehouse views tax_linked / stats_linked (warehouse.schema._links).
LINKED = {
    "tax": ("tax_rows", "taxpayer_key", "taxpayer_uscc"),
    "stats": ("stats_rows", "unit_key", "unit_uscc"),
}


def linked_records(
    con: duckdb.DuckDBPyConnection, source: str, enterprise_key: str, uscc: str | None
) -> list[dict[str, Any]]:
    """The current rows of ``{source}_linked`` whose ``enterprise_key`` is this one.

    ``uscc`` is the enterprise's own (registered) USCC, or None.

    The same rows, with the same ``enterprise_key`` and ``link_method``, as
    ``SELECT * FROM tax_linked WHERE enterprise_key = ?`` -- which joins all
    80M tax rows to the registry before filtering -- read through the indexes:
    a record is this enterprise's when its valid USCC is this enterprise's, or
    when its USCC is not in the registry and ``record_links`` ties its key here.
    A record's key equals its USCC whenever the USCC is valid, so one index on
    the key finds both kinds.
    """
    table, key_col, uscc_col = LINKED[source]
    links = fetch_dicts(
        con,
        """SELECT record_key FROM record_links
           WHERE source = ? AND enterprise_key = ? AND status IN ('auto', 'accepted')""",
        [source, enterprise_key],
    )
    keys = {r["record_key"] for r in links}
    if uscc:
        keys.add(uscc)
    rows = fetch_by_keys(con, table, key_col, keys, where="k.is_current")
    if not rows:
        return []
    # Which other USCCs named by these records are registered: those records belong
    # to their own enterprise, whatever record_links says (the view's precedence).
    others = {r[uscc_col] for r in rows if r[uscc_col] and r[uscc_col] != uscc}
    registered = {
        r["enterprise_key"]
        for r in fetch_by_keys(
            con,
            "registry_rows",
            "enterprise_key",
            others,
            columns="enterprise_key, uscc, is_current",
            where="k.is_current AND k.uscc IS NOT NULL",
        )
    }
    linked_keys = _link_targets(con, source, {r[key_col] for r in rows})
    out = []
    for r in rows:
        u = r[uscc_col]
        if u is not None and u == uscc:
            out.append({**r, "enterprise_key": enterprise_key, "link_method": "uscc"})
        elif u is None or u not in registered:
            target = linked_keys.get(r[key_col])
            if target is not None and target[0] == enterprise_key:
                out.append({**r, "enterprise_key": enterprise_key, "link_method": target[1]})
    return out


def _link_targets(
    con: duckdb.DuckDBPyConnection, source: str, record_keys: set[str]
) -> dict[str, tuple[str, str]]:
    """record_key -> (enterprise_key, method) as the linked views choose them (one per key)."""
    if not record_keys:
        return {}
    ks = sorted(record_keys)
    holes = ", ".join("?" for _ in ks)
    rows = fetch_dicts(
        con,
        f"""SELECT record_key, any_value(enterprise_key) AS enterprise_key, any_value(method) AS method
            FROM record_links
            WHERE source = ? AND status IN ('auto', 'accepted') AND record_key IN ({holes})
            GROUP BY record_key""",
        [source, *ks],
    )
    return {r["record_key"]: (r["enterprise_key"], r["method"]) for r in rows}
