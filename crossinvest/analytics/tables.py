"""The analytics tables (migrations) and a few helpers to read their state.

What is materialised (see docs/definitions-impl.md):

- ``investor_origins``  every current shareholder row's derived origin and rule,
                        stored in the order of ``eh`` (a hash of the enterprise's
                        USCC) so that one enterprise's rows are found by min/max
                        without an index (``origin_rows``)
- ``an_enterprises``    enterprises with shareholders: side, region, industry,
                        months of establishment and end
- ``an_groups``         per (kind, direct|penetrated, enterprise, origin, person?):
                        the qualifying investors' investment and share
- ``an_groups_by_key``  the same rows stored by enterprise key, for reads by key
                        (an enterprise list's page without an origin filter)
- ``an_pen_edges``      the edges penetration paths continue through
- ``an_pen_start``      path enumeration results for the enterprises in G
- ``an_yearly``         per (enterprise, year) of the enterprises in ``an_groups``:
                        tax of each month (t01..t12), revenue, employees
- ``an_cube``           the figures pre-summed per (kind, origin level, variant
                        mask, origin cell, enterprise cell, activity months,
                        measure month) for the horizon of months in ``an_state``
- ``an_cube_r0..r2``    an_cube summed without the enterprise's region and/or
                        industry: what most answers read
- ``an_state``          horizon and build markers
- ``an_batch_touch``    enterprises each load touched, so its rollback can
                        refresh the same ones
"""

from __future__ import annotations

import duckdb

from crossinvest.analytics.lookups import LOOKUP_DDL
from crossinvest.warehouse.connection import fetch_all, run

ANALYTICS_DDL = """
CREATE TABLE investor_origins (
    enterprise_uscc VARCHAR NOT NULL,
    investor_key VARCHAR NOT NULL,
    is_person BOOLEAN NOT NULL,
    investor_uscc VARCHAR,              -- valid USCC of the investor, if any
    investor_enterprise_key VARCHAR,    -- the investor's own registry entry, if any
    origin_code VARCHAR,                -- GB/T 2260; NULL = unknown (未知)
    origin_rule TINYINT NOT NULL,       -- 1..4 (definitions.md), 5 = person's ID division
    origin_province VARCHAR,
    origin_class VARCHAR NOT NULL,      -- D domestic, N not domestic, U unknown
    investor_side VARCHAR,              -- registry domicile of the investor: in/out/NULL
    subscribed_capital_wan DOUBLE,
    share_ratio DOUBLE
);
CREATE TABLE an_enterprises (
    enterprise_key VARCHAR NOT NULL,
    side VARCHAR NOT NULL,              -- in = Shanghai, out = elsewhere in China
    region_code VARCHAR,
    division VARCHAR,
    section VARCHAR,
    est_ym INTEGER,
    end_ym INTEGER,                     -- 999999 never; 0 always inactive
    registered_capital_wan DOUBLE
);
CREATE TABLE an_groups (
    kind VARCHAR NOT NULL,
    enterprise_key VARCHAR NOT NULL,
    origin_code VARCHAR NOT NULL,
    via_person BOOLEAN NOT NULL,
    penetrate BOOLEAN NOT NULL,
    investment_wan DOUBLE,
    share DOUBLE
);
CREATE TABLE an_pen_edges (
    side VARCHAR NOT NULL,
    child_key VARCHAR NOT NULL,
    parent_key VARCHAR NOT NULL,
    share DOUBLE
);
CREATE TABLE an_pen_start (
    side VARCHAR NOT NULL,
    start_key VARCHAR NOT NULL,
    origin_code VARCHAR NOT NULL,
    via_person BOOLEAN NOT NULL,
    share9 DOUBLE,
    share10 DOUBLE,
    n9 BIGINT NOT NULL,
    n10 BIGINT NOT NULL
);
CREATE TABLE an_yearly (
    enterprise_key VARCHAR NOT NULL,
    year INTEGER NOT NULL,
    t01 DOUBLE, t02 DOUBLE, t03 DOUBLE, t04 DOUBLE, t05 DOUBLE, t06 DOUBLE,   -- tax of each month, 万元
    t07 DOUBLE, t08 DOUBLE, t09 DOUBLE, t10 DOUBLE, t11 DOUBLE, t12 DOUBLE,
    revenue_wan DOUBLE,
    employees BIGINT
);
CREATE TABLE an_cube (
    kind VARCHAR NOT NULL,
    level TINYINT NOT NULL,
    mask TINYINT NOT NULL,
    o_prov VARCHAR, o_pref VARCHAR, o_dist VARCHAR,
    e_region VARCHAR, e_div VARCHAR, e_sec VARCHAR,
    est_b INTEGER NOT NULL, end_b INTEGER NOT NULL,
    src TINYINT NOT NULL,               -- 0 base (n, inv), 1 a year's tax by month, revenue, employees
    tm INTEGER NOT NULL,                -- src 1: the year
    n BIGINT, inv0 DOUBLE, inv1 DOUBLE, inv2 DOUBLE, inv3 DOUBLE,
    t01 DOUBLE, t02 DOUBLE, t03 DOUBLE, t04 DOUBLE, t05 DOUBLE, t06 DOUBLE,
    t07 DOUBLE, t08 DOUBLE, t09 DOUBLE, t10 DOUBLE, t11 DOUBLE, t12 DOUBLE,
    rev DOUBLE, emp BIGINT,
    ck UBIGINT NOT NULL                 -- hash of the key columns, for incremental merges
);
CREATE TABLE an_cube_r0 AS SELECT * FROM an_cube WHERE false;   -- no enterprise columns
CREATE TABLE an_cube_r1 AS SELECT * FROM an_cube WHERE false;   -- e_region only
CREATE TABLE an_cube_r2 AS SELECT * FROM an_cube WHERE false;   -- e_div, e_sec only
CREATE TABLE an_state (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE an_batch_touch (batch_id BIGINT NOT NULL, enterprise_key VARCHAR);  -- NULL key: all
"""

# Tables refreshed per enterprise (key column), in the order a refresh rewrites them.
PER_ENTERPRISE = {
    "an_enterprises": "enterprise_key",
    "an_groups": "enterprise_key",
    "an_yearly": "enterprise_key",
}

# ART indexes for the web's per-enterprise reads (warehouse.lookups): a profile's
# penetrated origins, an enterprise list's page. (A profile's investors and the
# chain read investor_origins by its stored hash instead: origin_rows.) A full
# rebuild drops them; warehouse.lookups.ensure_indexes builds them again after the commit.
LOOKUP_INDEXES: dict[str, tuple[str, str]] = {
    "ix_an_enterprises_key": ("an_enterprises", "enterprise_key"),
    "ix_an_groups_key": ("an_groups", "enterprise_key"),
    "ix_an_yearly_key": ("an_yearly", "enterprise_key"),
}

# Origin levels materialised per kind: inbound has no investor-side district.
LEVELS = {"inbound": (0, 1, 2), "outbound": (0, 1, 2, 3)}


def create_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Migration: every analytics table, empty."""
    run(con, LOOKUP_DDL)
    run(con, ANALYTICS_DDL)


def add_origin_lookup(con: duckdb.DuckDBPyConnection) -> None:
    """Migration: ``investor_origins`` carries the holding's own columns and ``eh``.

    With them, one enterprise's investors (profile) and holdings (chain) are read
    from investor_origins alone.

    ``eh`` (``hash(enterprise_uscc)``) orders the table at each full rebuild, so
    that a filter on it skips all but a row group or two by their min/max: the
    ART index on ``enterprise_uscc`` did not fit the memory budget at 27M rows,
    and a string's min/max keeps only its first 8 bytes, which USCCs of one
    district share. An existing table is rebuilt whole (the rows do not change).
    """
    from crossinvest.analytics.materialize import rebuild_origins

    run(con, 'DROP INDEX IF EXISTS "ix_investor_origins_enterprise"')
    filled = fetch_all(con, "SELECT EXISTS (SELECT 1 FROM investor_origins)")[0][0]
    for column, type_ in ORIGIN_LOOKUP_COLUMNS.items():
        run(con, f"ALTER TABLE investor_origins ADD COLUMN {column} {type_}")
    if filled:
        rebuild_origins(con)


# What analytics.0004 adds to investor_origins: the holding's own columns that a
# profile shows (model.HOLDING_COLUMNS and two more), and the storage hash.
ORIGIN_LOOKUP_COLUMNS = {
    "investor_name": "VARCHAR",
    "investor_id_type": "VARCHAR",
    "investor_id": "VARCHAR",
    "paid_capital_wan": "DOUBLE",
    "contributed_on": "DATE",
    "investor_type": "VARCHAR",
    "investor_region_code": "VARCHAR",
    "eh": "UBIGINT",
}


def add_groups_by_key(con: duckdb.DuckDBPyConnection) -> None:
    """Migration: ``an_groups_by_key``, a copy of ``an_groups`` stored by enterprise key.

    ``an_groups`` keeps its direct rows by kind and origin, which an origin's
    enterprise list needs; read by key they span every row group, and at 10M
    (42M rows, whose index is over the memory budget) a page's 102 keys took
    0.15-0.3 s. The copy, sorted, answers them from a row group or two (10 ms).
    Filled here from ``an_groups`` (16 s at 42M rows); rebuilds and refreshes
    keep it equal to it (``materialize.copy_groups_by_key``, ``refresh``).
    """
    run(con, "CREATE TABLE an_groups_by_key AS SELECT * FROM an_groups WHERE false")
    from crossinvest.analytics.materialize import copy_groups_by_key, mark_sorted_bodies

    copy_groups_by_key(con)
    mark_sorted_bodies(con, ["an_groups_by_key"])


def add_origin_tail(con: duckdb.DuckDBPyConnection) -> None:
    """Migration: ``investor_origins.appended`` marks the rows refreshes appended.

    NULL for a full rebuild's rows (the sorted body), true for the refreshes' tail,
    which each refresh rewrites as one sorted run (``materialize.append_origins``).
    Rows appended before this migration count as body until the next rebuild.
    """
    run(con, "ALTER TABLE investor_origins ADD COLUMN appended BOOLEAN")


# SQL for the column ``eh`` of investor_origins rows (see add_origin_lookup).
ORIGINS_EH = "hash(enterprise_uscc)"


# Up to this many enterprises, one equality filter per enterprise (UNION ALL):
# DuckDB evaluates equalities inside the scan, on the filtered columns first, but
# an IN list of several values after reading every column of the row groups it
# keeps (at 10M, three enterprises: 38 ms as an IN list, 10 ms as equalities).
ORIGIN_EQUALITIES_UP_TO = 16


def origin_rows(n: int, columns: str = "*") -> str:
    """SQL reading the investor_origins rows of ``n`` enterprise USCCs; parameters ``origin_rows_params``.

    The ``eh`` filter lets DuckDB skip row groups by min/max; the key filter
    removes other enterprises that share a row group.

    >>> origin_rows(1, "investor_key")
    'SELECT investor_key FROM investor_origins WHERE eh = hash(?) AND enterprise_uscc = ?'
    >>> origin_rows(2, "investor_key").count(" UNION ALL ")
    1
    """
    if n < 1:
        raise ValueError("origin_rows needs at least one key")
    if n <= ORIGIN_EQUALITIES_UP_TO:
        one = f"SELECT {columns} FROM investor_origins WHERE eh = hash(?) AND enterprise_uscc = ?"
        return " UNION ALL ".join(one for _ in range(n))
    hashes = ", ".join("hash(?)" for _ in range(n))
    holes = ", ".join("?" for _ in range(n))
    return f"SELECT {columns} FROM investor_origins WHERE eh IN ({hashes}) AND enterprise_uscc IN ({holes})"


def origin_rows_params(keys: list[str]) -> list[str]:
    """The parameters of ``origin_rows(len(keys))``: each key twice.

    >>> origin_rows_params(["a", "b"])
    ['a', 'a', 'b', 'b']
    """
    if len(keys) <= ORIGIN_EQUALITIES_UP_TO:
        return [k for key in keys for k in (key, key)]
    return [*keys, *keys]


def get_state(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(fetch_all(con, "SELECT key, value FROM an_state"))


def set_state(con: duckdb.DuckDBPyConnection, **values: object) -> None:
    for k, v in values.items():
        run(con, "DELETE FROM an_state WHERE key = ?", [k])
        run(con, "INSERT INTO an_state VALUES (?, ?)", [k, None if v is None else str(v)])
