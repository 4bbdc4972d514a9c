"""What linkage compares: name parts and identifier pieces, for enterprises and records.

Enterprises: ``link_enterprises`` holds one row per current registry enterprise,
kept up to date incrementally by registry loads and rollbacks, so that linking a
small tax batch never re-parses ten million registry names.

Records: the distinct ``taxpayer_key`` (tax) or ``unit_key`` (stats) without a
valid USCC, one row each with its most frequent name and its delivered ID.

Both sides carry the same columns (Splink compares like with like):

- ``unique_id``: enterprise_key / record_key;
- name parts from :mod:`crossinvest.linkage.normalise`;
- ``id``: the registry USCC, or the record's delivered (invalid) ID;
- ``id_div``: ID characters 3–8 (the division) of an 18-character ID;
- ``k_a``, ``k_b``, ``k_c``: an 18-character ID without one of its three parts
  (3–12: division and the first organisation-code characters, 13–14, 15–18).
  One changed character leaves the other two parts intact, so a mistyped USCC
  shares one key with the right one: exact blocking keys instead of an
  edit-distance join. The parts are cut so that every key keeps at least four
  of the organisation code's random characters (its 'MA' prefix and the
  division are nearly constant): no key makes large blocks.

Only name parts, the USCC and the 注册号 are stored for enterprises; the ID
pieces are cheap substrings computed where they are used.
"""

from __future__ import annotations

import duckdb

from crossinvest.linkage.normalise import name_parts_sql
from crossinvest.linkage.util import scalar
from crossinvest.warehouse.connection import run

# The record side of each source: table, key, valid-USCC column, name and ID columns.
RECORD_SOURCES: dict[str, dict[str, str]] = {
    "tax": {
        "view": "tax",
        "table": "tax_rows",
        "key": "taxpayer_key",
        "uscc": "taxpayer_uscc",
        "name": "taxpayer_name",
        "id": "taxpayer_id",
    },
    "stats": {
        "view": "stats",
        "table": "stats_rows",
        "key": "unit_key",
        "uscc": "unit_uscc",
        "name": "name",
        "id": "uscc",
    },
}

# Columns both sides give Splink (enterprises: stored ones plus id_parts()).
SPLINK_COLUMNS = (
    "unique_id",
    "name",
    "region",
    "core",
    "grp",
    "form",
    "name_key",
    "id",
    "id_div",
    "k_a",
    "k_b",
    "k_c",
)

ENTERPRISES_DDL = """
CREATE TABLE link_enterprises (
    unique_id VARCHAR NOT NULL,      -- registry.enterprise_key
    batch_id BIGINT NOT NULL,        -- registry batch of the row the features come from
    name VARCHAR,                    -- as registered
    region VARCHAR, core VARCHAR, grp VARCHAR, form VARCHAR, name_key VARCHAR,
    id VARCHAR,                      -- USCC
    reg_no VARCHAR                   -- legacy 注册号
)
"""


def id_parts(col: str = "id") -> str:
    """SELECT-list items: the division and the three blocking keys of an 18-character ID."""
    return f"""
        CASE WHEN length({col}) = 18 THEN substr({col}, 3, 6) END AS id_div,
        CASE WHEN length({col}) = 18 THEN substr({col}, 13, 6) END AS k_a,
        CASE WHEN length({col}) = 18 THEN substr({col}, 3, 10) || substr({col}, 15, 4) END AS k_b,
        CASE WHEN length({col}) = 18 THEN substr({col}, 3, 12) END AS k_c
    """


def enterprise_features_sql(where: str) -> str:
    """Features of current registry rows matching ``where`` (a predicate on ``registry``)."""
    base = f"SELECT enterprise_key AS unique_id, batch_id, name, uscc AS id, reg_no FROM registry WHERE {where}"
    return f"""
        SELECT unique_id, batch_id, name, region, core, grp, form, name_key, id, reg_no
        FROM ({name_parts_sql(base, "name")})
    """


def refresh_enterprises_for_batch(con: duckdb.DuckDBPyConnection, batch_id: int) -> None:
    """After a registry load: (re)compute the features of the enterprises it delivered."""
    run(
        con,
        f"""DELETE FROM link_enterprises WHERE unique_id IN
            (SELECT enterprise_key FROM registry_rows WHERE batch_id = {int(batch_id)})""",
    )
    run(
        con,
        f"INSERT INTO link_enterprises {enterprise_features_sql(f'batch_id = {int(batch_id)}')}",
    )


def refresh_enterprises_after_rollback(con: duckdb.DuckDBPyConnection, batch_id: int) -> None:
    """After a registry rollback: drop the batch's features, restore re-elected versions."""
    run(con, f"DELETE FROM link_enterprises WHERE batch_id = {int(batch_id)}")
    run(
        con,
        "DELETE FROM link_enterprises WHERE unique_id NOT IN (SELECT enterprise_key FROM registry)",
    )
    run(
        con,
        "INSERT INTO link_enterprises "
        + enterprise_features_sql("enterprise_key NOT IN (SELECT unique_id FROM link_enterprises)"),
    )


def rebuild_enterprises(con: duckdb.DuckDBPyConnection) -> None:
    """All enterprise features from the current registry (migration, repair)."""
    run(con, "DELETE FROM link_enterprises")
    run(con, f"INSERT INTO link_enterprises {enterprise_features_sql('true')}")


def eligible_records_sql(source: str, where: str = "true") -> str:
    """Distinct record keys of ``source`` without a valid USCC and without a standing link.

    A standing link is auto, review or accepted; a record whose links were all
    rejected is eligible again (for other enterprises). ``where`` filters the
    source's current rows (e.g. ``batch_id = 7``).
    """
    s = RECORD_SOURCES[source]
    return f"""
        SELECT DISTINCT {s["key"]} AS record_key FROM {s["view"]}
        WHERE {s["uscc"]} IS NULL AND ({where})
          AND {s["key"]} NOT IN (SELECT record_key FROM record_links
                                 WHERE source = '{source}' AND status IN ('auto', 'review', 'accepted'))
    """


def record_features(con: duckdb.DuckDBPyConnection, source: str, keys: str, out: str) -> int:
    """Create temp table ``out`` with the features of the records listed in table ``keys``.

    A record key can appear with several spellings of its name (and a mistyped
    ID with one); the most frequent name stands for the record. Returns the row count.
    """
    s = RECORD_SOURCES[source]
    base = f"""
        SELECT record_key AS unique_id, arg_max(name, n) AS name, arg_max(id, n) AS id,
               max(batch_id) AS batch_id
        FROM (
            SELECT {s["key"]} AS record_key, {s["name"]} AS name,
                   NULLIF(upper(replace({s["id"]}, ' ', '')), '') AS id,
                   count(*) AS n, max(batch_id) AS batch_id
            FROM {s["view"]}
            WHERE {s["key"]} IN (SELECT record_key FROM {keys})
            GROUP BY ALL
        )
        GROUP BY record_key
    """
    parts = name_parts_sql(base, "name")
    run(
        con,
        f"""
        CREATE OR REPLACE TEMP TABLE {out} AS
        SELECT unique_id, batch_id, name, region, core, grp, form, name_key, id, {id_parts()}
        FROM ({parts})
        """,
    )
    return scalar(con, f"SELECT count(*) FROM {out}")
