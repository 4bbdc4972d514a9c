"""Linkage across the life of the warehouse: schema, loads, rollbacks.

Loads and rollbacks call :func:`on_load` and :func:`on_rollback` from their
``after_load``/``after_rollback`` hooks, inside their own transaction: a load
whose linking fails is not loaded, and a rollback takes its links with it.

- tax/stats load: link the batch's records that have no valid USCC and no link;
- registry load: refresh the enterprise features of the batch, then retry the
  records still unlinked against the batch's enterprises only;
- tax/stats rollback: its model-made links go; analysts' accepted/manual links
  go with records that no longer exist; records still present (delivered again
  by other batches) are linked afresh. Rejections stay: a rejected pair is
  never proposed again, whatever is loaded or rolled back;
- registry rollback: its features and the links it made go, and so does every
  link to an enterprise no longer in the registry; the records they tied are
  linked afresh against what remains.
"""

from __future__ import annotations

import duckdb

from crossinvest.linkage.engine import LinkStats, link_records, settings_for
from crossinvest.linkage.features import (
    ENTERPRISES_DDL,
    RECORD_SOURCES,
    eligible_records_sql,
    rebuild_enterprises,
    refresh_enterprises_after_rollback,
    refresh_enterprises_for_batch,
)
from crossinvest.linkage.model import compute_scale
from crossinvest.warehouse.connection import run


def migrate_0001(con: duckdb.DuckDBPyConnection) -> None:
    """Link ids and review columns on record_links; the model and feature tables."""
    run(con, "CREATE SEQUENCE link_seq START 1")
    run(con, "ALTER TABLE record_links ADD COLUMN link_id BIGINT DEFAULT nextval('link_seq')")
    run(con, "ALTER TABLE record_links ADD COLUMN created_at TIMESTAMP")
    run(
        con, "ALTER TABLE record_links ADD COLUMN record_name VARCHAR"
    )  # name as the record spells it
    run(con, "ALTER TABLE record_links ADD COLUMN detail VARCHAR")  # JSON: levels, runner-up, model
    run(con, "CREATE SEQUENCE link_model_seq START 1")
    run(
        con,
        """CREATE TABLE link_models (
               model_id BIGINT PRIMARY KEY,
               created_at TIMESTAMP NOT NULL,
               active BOOLEAN NOT NULL,
               reason VARCHAR,              -- first, retrain
               params VARCHAR NOT NULL      -- JSON: m and u per level, training facts
           )""",
    )
    run(con, ENTERPRISES_DDL)
    run(
        con, "CREATE TABLE link_state (key VARCHAR PRIMARY KEY, value VARCHAR)"
    )  # cached registry facts
    rebuild_enterprises(con)
    compute_scale(con)


def on_load(con: duckdb.DuckDBPyConnection, batch_id: int, source: str) -> list[LinkStats]:
    """Link what batch ``batch_id`` of ``source`` makes linkable (see module doc)."""
    settings = settings_for(con)
    if source in RECORD_SOURCES:
        return [
            link_records(
                con,
                source,
                eligible_records_sql(source, f"batch_id = {int(batch_id)}"),
                batch_id=batch_id,
                settings=settings,
            )
        ]
    if source == "registry":
        refresh_enterprises_for_batch(con, batch_id)
        compute_scale(con)
        return [
            link_records(
                con,
                s,
                eligible_records_sql(s),
                batch_id=batch_id,
                settings=settings,
                ent_filter=f"batch_id = {int(batch_id)}",
            )
            for s in RECORD_SOURCES
        ]
    return []


def _relink_orphans(
    con: duckdb.DuckDBPyConnection, orphans: str, settings: dict
) -> list[LinkStats]:
    out = []
    for s, spec in RECORD_SOURCES.items():
        where = f"{spec['key']} IN (SELECT record_key FROM {orphans} WHERE source = '{s}')"
        out.append(
            link_records(con, s, eligible_records_sql(s, where), batch_id=None, settings=settings)
        )
    return out


def on_rollback(con: duckdb.DuckDBPyConnection, batch_id: int, source: str) -> list[LinkStats]:
    """Undo the links batch ``batch_id`` made; re-tie the records that lost theirs."""
    b = int(batch_id)
    settings = settings_for(con)
    orphans = f"lk_orphans_{b}"
    if source in RECORD_SOURCES:
        spec = RECORD_SOURCES[source]
        exists = f"record_key IN (SELECT {spec['key']} FROM {spec['view']})"
        run(
            con,
            f"""CREATE OR REPLACE TEMP TABLE {orphans} AS
                SELECT DISTINCT source, record_key FROM record_links
                WHERE batch_id = {b} AND source = '{source}' AND status IN ('auto', 'review', 'accepted')""",
        )
        run(
            con,
            f"DELETE FROM record_links WHERE batch_id = {b} AND source = '{source}' "
            "AND status IN ('auto', 'review')",
        )
        run(
            con,
            f"DELETE FROM record_links WHERE batch_id = {b} AND source = '{source}' "
            f"AND status = 'accepted' AND NOT {exists}",
        )
        # Decisions that stay belong from now on to the latest batch still holding the record.
        run(
            con,
            f"""UPDATE record_links AS l SET batch_id = m.b
                FROM (SELECT {spec["key"]} AS k, max(batch_id) AS b FROM {spec["view"]} GROUP BY 1) m
                WHERE l.batch_id = {b} AND l.source = '{source}' AND m.k = l.record_key""",
        )
    elif source == "registry":
        refresh_enterprises_after_rollback(con, b)
        compute_scale(con)
        gone = "enterprise_key NOT IN (SELECT unique_id FROM link_enterprises)"
        run(
            con,
            f"""CREATE OR REPLACE TEMP TABLE {orphans} AS
                SELECT DISTINCT source, record_key FROM record_links
                WHERE (batch_id = {b} AND status IN ('auto', 'review')) OR {gone}""",
        )
        run(
            con,
            f"DELETE FROM record_links WHERE (batch_id = {b} AND status IN ('auto', 'review')) OR {gone}",
        )
    else:
        return []
    out = _relink_orphans(con, orphans, settings)
    run(con, f"DROP TABLE {orphans}")
    return out
