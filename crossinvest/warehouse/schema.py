"""The warehouse's core tables: batches, quarantine, and one table per source.

Each source table keeps every version of every row it was ever delivered
(history); ``is_current`` marks the version that counts. A view named after the
source (``registry``, ``shareholders``, ``tax``, ``stats``) shows the current
rows only, and is what every other module reads.

Money is in 万元, ratios are fractions 0–1, dates are DATE, periods are the
first day of their month. A resident ID is never stored: persons keep the
6-digit division of issue and a keyed hash.
"""

from __future__ import annotations

import duckdb

from crossinvest.hooks import hookimpl
from crossinvest.warehouse.connection import run, table_ddl
from crossinvest.warehouse.migrations import Migration

# Columns common to every source table, ahead of the source's own.
ROW_META = """
    batch_id BIGINT NOT NULL,
    row_no BIGINT NOT NULL,          -- data row in the delivered file, from 1
    is_current BOOLEAN NOT NULL,
"""

SOURCE_COLUMNS: dict[str, str] = {
    "registry": """
        enterprise_key VARCHAR NOT NULL, -- USCC, else 'R:' || reg_no
        uscc VARCHAR,
        reg_no VARCHAR,
        name VARCHAR NOT NULL,
        entity_type VARCHAR,
        legal_representative VARCHAR,
        established_on DATE NOT NULL,
        registered_capital_wan DOUBLE,   -- converted to CNY 万元
        currency VARCHAR,                -- as delivered, default 人民币
        registration_authority VARCHAR,
        address VARCHAR,
        region_code VARCHAR,             -- 6-digit GB/T 2260, NULL if unknown
        region_source VARCHAR,           -- 'given', 'address', 'uscc'
        industry_code VARCHAR,           -- 4-digit GB/T 4754-2017 小类
        industry_section VARCHAR,        -- A–T
        status VARCHAR,
        deregistered_on DATE
    """,
    "shareholders": """
        enterprise_uscc VARCHAR NOT NULL,
        investor_key VARCHAR NOT NULL,   -- investor USCC/ID (persons: 'P:'||hash), else 'N:'||name
        investor_name VARCHAR NOT NULL,
        investor_type VARCHAR,
        investor_id_type VARCHAR,
        investor_id VARCHAR,             -- NULL for natural persons (never stored)
        is_person BOOLEAN NOT NULL,
        person_division VARCHAR,         -- first 6 digits of a resident ID
        person_id_hash VARCHAR,          -- keyed hash of a resident ID
        subscribed_capital_wan DOUBLE,
        paid_capital_wan DOUBLE,
        share_ratio DOUBLE,              -- 0–1
        contributed_on DATE,
        investor_region_code VARCHAR
    """,
    "tax": """
        taxpayer_key VARCHAR NOT NULL,   -- taxpayer_id, else 'N:'||name
        taxpayer_id VARCHAR,             -- as delivered (cleaned)
        taxpayer_uscc VARCHAR,           -- taxpayer_id when it is a valid USCC
        taxpayer_name VARCHAR NOT NULL,
        period DATE NOT NULL,            -- first day of the month
        tax_type VARCHAR,
        tax_type_key VARCHAR NOT NULL,   -- tax_type or ''
        tax_paid_wan DOUBLE NOT NULL
    """,
    "stats": """
        unit_key VARCHAR NOT NULL,       -- uscc as delivered, else 'N:'||name
        uscc VARCHAR,                    -- as delivered (cleaned)
        unit_uscc VARCHAR,               -- uscc when it is a valid USCC
        name VARCHAR NOT NULL,
        year INTEGER NOT NULL,
        employees BIGINT,
        revenue_wan DOUBLE,
        profit_wan DOUBLE,
        total_assets_wan DOUBLE
    """,
}


def _core_tables(con: duckdb.DuckDBPyConnection) -> None:
    run(con, "CREATE SEQUENCE batch_seq START 1")
    run(
        con,
        """
        CREATE TABLE batches (
            batch_id BIGINT PRIMARY KEY,
            source VARCHAR NOT NULL,
            file_name VARCHAR NOT NULL,
            sha256 VARCHAR NOT NULL,        -- of the file as delivered
            archive_path VARCHAR,           -- relative to the home's archive/
            file_format VARCHAR,            -- csv, tsv, xlsx
            encoding VARCHAR,
            rows_read BIGINT NOT NULL,
            rows_loaded BIGINT NOT NULL,
            rows_rejected BIGINT NOT NULL,
            rows_warned BIGINT NOT NULL,
            status VARCHAR NOT NULL,        -- loaded, rolled_back
            loaded_at TIMESTAMP NOT NULL,
            rolled_back_at TIMESTAMP,
            elapsed_s DOUBLE
        )
        """,
    )
    # One row per failing (row, column); severity 'error' quarantines the row,
    # 'warning' keeps it with that field unknown.
    run(
        con,
        """
        CREATE TABLE rejects (
            batch_id BIGINT NOT NULL,
            row_no BIGINT NOT NULL,
            column_name VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            severity VARCHAR NOT NULL,
            value VARCHAR
        )
        """,
    )
    # The quarantined rows themselves, as delivered (personal IDs masked).
    run(
        con,
        """
        CREATE TABLE quarantine (
            batch_id BIGINT NOT NULL,
            row_no BIGINT NOT NULL,
            raw JSON NOT NULL
        )
        """,
    )
    for source, cols in SOURCE_COLUMNS.items():
        run(con, f"CREATE TABLE {source}_rows ({ROW_META}{cols})")
        run(con, f"CREATE VIEW {source} AS SELECT * FROM {source}_rows WHERE is_current")


def _links(con: duckdb.DuckDBPyConnection) -> None:
    """Links from tax/stats records to enterprises, and the views figures read.

    A record whose valid USCC is in the registry is tied directly; every other
    tie is a row in ``record_links`` (legacy number, Splink, or an analyst's
    decision). Figures use only 'auto' and 'accepted' links.
    """
    run(
        con,
        """
        CREATE TABLE record_links (
            source VARCHAR NOT NULL,         -- 'tax' or 'stats'
            record_key VARCHAR NOT NULL,     -- tax.taxpayer_key / stats.unit_key
            enterprise_key VARCHAR NOT NULL, -- registry.enterprise_key
            method VARCHAR NOT NULL,         -- 'regno', 'splink', 'manual'
            weight DOUBLE,                   -- Splink match weight; NULL if deterministic
            status VARCHAR NOT NULL,         -- 'auto', 'review', 'accepted', 'rejected'
            reviewer VARCHAR,
            decided_at TIMESTAMP,
            batch_id BIGINT                  -- the load whose rows created the link
        )
        """,
    )
    for source, key, uscc in (
        ("tax", "taxpayer_key", "taxpayer_uscc"),
        ("stats", "unit_key", "unit_uscc"),
    ):
        run(
            con,
            f"""
            CREATE VIEW {source}_linked AS
            SELECT s.*,
                   COALESCE(r.enterprise_key, l.enterprise_key) AS enterprise_key,
                   CASE WHEN r.enterprise_key IS NOT NULL THEN 'uscc' ELSE l.method END AS link_method
            FROM {source} s
            LEFT JOIN (SELECT enterprise_key, uscc FROM registry WHERE uscc IS NOT NULL) r
                   ON r.uscc = s.{uscc}
            LEFT JOIN (SELECT record_key, any_value(enterprise_key) AS enterprise_key, any_value(method) AS method
                       FROM record_links
                       WHERE source = '{source}' AND status IN ('auto', 'accepted')
                       GROUP BY record_key) l
                   ON r.enterprise_key IS NULL AND l.record_key = s.{key}
            """,
        )


# Sets investor_uscc as the loader does, for rows written without it (the
# migration's existing rows; tests and benchmarks that write rows directly).
FILL_INVESTOR_USCC = (
    "UPDATE shareholders_rows SET investor_uscc = investor_id "
    "WHERE investor_uscc IS NULL AND NOT is_person AND ci_uscc_valid(investor_id)"
)


def _investor_uscc(con: duckdb.DuckDBPyConnection) -> None:
    """The investor's USCC when the loader verified it (check character included).

    Origins use it instead of re-checking every investor ID on each statistics
    rebuild: at 1M enterprises the cold recompute fell from 1.7-2.5x to 1.3-1.4x
    the hand-written query. Existing rows are filled in once here.
    """
    from crossinvest.validation.macros import install_macros

    install_macros(con)
    run(con, "ALTER TABLE shareholders_rows ADD COLUMN investor_uscc VARCHAR")
    run(con, FILL_INVESTOR_USCC)


def _source_freshness(con: duckdb.DuckDBPyConnection) -> None:
    from crossinvest.warehouse.freshness import create_table

    create_table(con)


def _cluster_record_rows(con: duckdb.DuckDBPyConnection) -> None:
    """Store tax and stats rows of each batch in key order, as the loader now writes them.

    A profile reads one enterprise's tax rows out of 80M at 10M enterprises, where
    their index is over the memory budget: unclustered, that read scanned most of
    the table (0.2-0.5 s); clustered, a row group or two per batch. The table is
    copied sorted into a new one of the same definition, which replaces it.
    """
    from crossinvest.sources import SOURCES

    for source in SOURCES.values():
        if source.cluster is None:
            continue
        table, new = source.table, f"{source.table}_clustered"
        ddl = table_ddl(con, table)
        run(con, ddl.replace(f"CREATE TABLE {table}", f"CREATE TABLE {new}", 1))
        run(con, f"INSERT INTO {new} SELECT * FROM {table} ORDER BY batch_id, {source.cluster}")
        # Its lookup index goes with it; ensure_indexes builds it again.
        run(con, f"DROP TABLE {table}")
        run(con, f"ALTER TABLE {new} RENAME TO {table}")


# A person's keyed ID hash as the shareholders view gives it: investor_key is
# 'P:' || hash exactly when a person's ID was given. Rows loaded before
# core.0006 also kept it in person_id_hash itself.
PERSON_ID_HASH = (
    "COALESCE(person_id_hash, CASE WHEN is_person AND starts_with(investor_key, 'P:') "
    "THEN substr(investor_key, 3) END)"
)


def _person_id_hash_derived(con: duckdb.DuckDBPyConnection) -> None:
    """The shareholders view derives ``person_id_hash`` from ``investor_key``.

    The loader stored the same 64-hex-digit hash twice per person (``investor_key``
    and ``person_id_hash``); writing the second copy was ~15 % of the shareholders'
    insert. New rows keep ``person_id_hash`` NULL.
    """
    run(
        con,
        "CREATE OR REPLACE VIEW shareholders AS SELECT * REPLACE "
        f"({PERSON_ID_HASH} AS person_id_hash) FROM shareholders_rows WHERE is_current",
    )


def _name_index(con: duckdb.DuckDBPyConnection) -> None:
    from crossinvest.warehouse.name_index import create_tables

    create_tables(con)


def _name_rows_by_key(con: duckdb.DuckDBPyConnection) -> None:
    # Indexes built before this migration store the whole names (g = -3) in name
    # order; forgetting the build makes the server's next upkeep build it again
    # in key order. Until then search reads every name, as before any build.
    from crossinvest.warehouse.name_index import forget

    forget(con)


@hookimpl
def register_migrations() -> list[Migration]:
    return [
        Migration("core.0001_tables", _core_tables),
        Migration("core.0002_record_links", _links),
        Migration("core.0003_investor_uscc", _investor_uscc),
        Migration("core.0004_source_freshness", _source_freshness),
        Migration("core.0005_cluster_record_rows", _cluster_record_rows),
        Migration("core.0006_person_id_hash_derived", _person_id_hash_derived),
        Migration("core.0007_name_index", _name_index),
        Migration("core.0008_name_rows_by_key", _name_rows_by_key),
    ]


@hookimpl
def register_indexes() -> dict[str, tuple[str, str]]:
    from crossinvest.warehouse.lookups import BASE_INDEXES

    return BASE_INDEXES
