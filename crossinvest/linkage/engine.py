"""Linking records to enterprises: deterministic rules first, then Splink, then bands.

:func:`link_records` is the one entry point; loads, rollbacks, registry retries
and ``crossinvest links relink`` all call it with the records they concern.

1. Deterministic (method ``regno``, status ``auto``): a delivered 13/15-digit
   number equal to an enterprise's 注册号, or a 15-character number equal to
   USCC characters 3–17 (the old 税务登记号: division + organisation code).
2. Probabilistic (method ``splink``): the rest are blocked against
   ``link_enterprises`` (same name core, or an 18-character ID sharing two of its
   three parts with a USCC) and scored by the active model. Per record the best
   candidate not rejected before is kept: ``auto`` when its weight reaches
   ``link_accept_weight`` and beats the runner-up by ``link_margin_weight``,
   ``review`` when it reaches ``link_review_weight`` (an ambiguous record puts
   its close runners-up in the queue too); lower weights are not stored.

A record with a valid USCC never comes here: the views tie it directly.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from crossinvest.config import DEFAULT_SETTINGS, Home
from crossinvest.linkage import model, training
from crossinvest.linkage.features import id_parts, record_features
from crossinvest.linkage.util import first, scalar
from crossinvest.warehouse.connection import run

# Defaults for settings this module reads beyond config.DEFAULT_SETTINGS.
EXTRA_DEFAULTS = {"link_margin_weight": 4.0, "link_max_review_candidates": 3}


@dataclass
class Bands:
    accept: float
    review: float
    margin: float
    max_review: int = 3

    @classmethod
    def from_settings(cls, s: dict) -> Bands:
        merged = {**DEFAULT_SETTINGS, **EXTRA_DEFAULTS, **s}
        return cls(
            float(merged["link_accept_weight"]),
            float(merged["link_review_weight"]),
            float(merged["link_margin_weight"]),
            int(merged["link_max_review_candidates"]),
        )


@dataclass
class LinkStats:
    """What one call of :func:`link_records` did."""

    source: str
    records: int = 0
    regno: int = 0
    auto: int = 0
    review: int = 0
    unlinked: int = 0
    candidates: int = 0
    pairs: int = 0
    model_id: int | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict:
        return asdict(self)


def home_of(con: duckdb.DuckDBPyConnection) -> Home:
    """The home whose warehouse ``con`` has open (hooks receive only the connection)."""
    row = first(con, "SELECT path FROM duckdb_databases() WHERE database_name = current_database()")
    if row and row[0]:
        return Home(Path(row[0]).parent)
    from crossinvest.config import current_home

    return current_home()


def settings_for(con: duckdb.DuckDBPyConnection) -> dict:
    """The home's settings (see :func:`home_of`)."""
    return home_of(con).settings()


def _rejected(source: str, rec: str, ent: str) -> str:
    return f"""NOT EXISTS (SELECT 1 FROM record_links x WHERE x.source = '{source}' AND x.status = 'rejected'
                          AND x.record_key = {rec} AND x.enterprise_key = {ent})"""


def candidates_sql(records: str, ent_filter: str = "true") -> str:
    """Enterprises sharing a blocking key with any record in table ``records``, with their ID parts."""
    return f"""
        SELECT unique_id, name, region, core, grp, form, name_key, id, id_div, k_a, k_b, k_c
        FROM (SELECT *, {id_parts()} FROM link_enterprises WHERE {ent_filter})
        WHERE core IN (SELECT core FROM {records} WHERE core IS NOT NULL)
           OR k_a IN (SELECT k_a FROM {records} WHERE k_a IS NOT NULL)
           OR k_b IN (SELECT k_b FROM {records} WHERE k_b IS NOT NULL)
           OR k_c IN (SELECT k_c FROM {records} WHERE k_c IS NOT NULL)
    """


def _batch_expr(batch_id: int | None, alias: str) -> str:
    return str(int(batch_id)) if batch_id is not None else f"{alias}.batch_id"


def _deterministic(con, source: str, rec: str, batch_id: int | None, ent_filter: str) -> int:
    before = scalar(con, "SELECT count(*) FROM record_links")
    run(
        con,
        f"""
        INSERT INTO record_links (source, record_key, enterprise_key, method, weight, status, reviewer,
                                  decided_at, batch_id, created_at, record_name, detail)
        SELECT '{source}', r.unique_id, any_value(m.ent), 'regno', NULL, 'auto', NULL, NULL,
               any_value({_batch_expr(batch_id, "r")}),
               now(), any_value(r.name), json_object('rule', any_value(m.rule))
        FROM {rec} r
        JOIN (SELECT unique_id AS ent, reg_no AS num, 'reg_no' AS rule FROM link_enterprises
              WHERE reg_no IS NOT NULL AND ({ent_filter})
              UNION ALL
              SELECT unique_id, substr(id, 3, 15), 'tax15' FROM link_enterprises
              WHERE length(id) = 18 AND ({ent_filter})) m ON m.num = r.id
        WHERE length(r.id) IN (13, 15) AND {_rejected(source, "r.unique_id", "m.ent")}
        GROUP BY r.unique_id
        HAVING count(DISTINCT m.ent) = 1
        """,
    )
    added = scalar(con, "SELECT count(*) FROM record_links") - before
    if added:
        run(
            con,
            f"""DELETE FROM {rec} WHERE unique_id IN (SELECT record_key FROM record_links
                WHERE source = '{source}' AND method = 'regno' AND status = 'auto')""",
        )
    return int(added)


def _detail_sql(model_id: int | None) -> str:
    """JSON for the reviewer: each comparison's contribution to the weight, the runner-up, the model."""
    mid = "NULL" if model_id is None else str(int(model_id))
    return (
        "json_object('name', round(q.mw_name, 2), 'region', round(q.mw_region, 2), 'id', round(q.mw_id, 2), "
        f"'runner_up', round(q.runner_up, 2), 'model', {mid})"
    )


def _predict(con, rec: str, cand: str, params, scale, settings: dict) -> tuple[str, object]:
    """Score the blocked pairs; return the predictions table and a cleanup callable."""
    from crossinvest.linkage import spark

    if spark.engine_name(settings) == "spark":
        s = model.settings(params, scale=scale, dialect="spark")
        p = spark.predict(con, rec, cand, s, settings, home_of(con).tmp)
        return p, lambda: run(con, f"DROP TABLE IF EXISTS {p}")
    lk = model.linker(
        con, [(rec, "records"), (cand, "registry")], model.settings(params, scale=scale)
    )
    pred = lk.inference.predict(warning_mode="never")
    return pred.physical_name, lk.table_management.delete_tables_created_by_splink_from_db


def _score(
    con,
    source: str,
    rec: str,
    batch_id: int | None,
    ent_filter: str,
    bands: Bands,
    st: LinkStats,
    settings: dict,
) -> None:
    t = time.perf_counter()
    cand = f"lk_cand_{uuid.uuid4().hex[:8]}"
    run(con, f"CREATE OR REPLACE TEMP TABLE {cand}_base AS {candidates_sql(rec, ent_filter)}")
    st.candidates = scalar(con, f"SELECT count(*) FROM {cand}_base")
    if st.candidates == 0:
        run(con, f"DROP TABLE {cand}_base")
        return
    scale = model.registry_scale(con)
    # How many enterprises bear each candidate's exact name (model.level_dicts splits on it).
    run(
        con,
        f"""
        CREATE OR REPLACE TEMP TABLE {cand} AS
        SELECT c.*, n.n AS n_name
        FROM {cand}_base c
        LEFT JOIN (SELECT name_key, count(*) AS n FROM link_enterprises
                   WHERE name_key IN (SELECT name_key FROM {cand}_base) GROUP BY name_key) n USING (name_key)
        """,
    )
    run(con, f"DROP TABLE {cand}_base")
    run(
        con,
        f"CREATE OR REPLACE TEMP TABLE {rec}_s AS SELECT * EXCLUDE (batch_id), NULL::BIGINT AS n_name FROM {rec}",
    )
    model_id, params = training.ensure_model(con)
    st.model_id = model_id
    st.seconds["prepare"] = time.perf_counter() - t

    t = time.perf_counter()
    p, cleanup = _predict(con, f"{rec}_s", cand, params, scale, settings)
    st.seconds["predict"] = time.perf_counter() - t

    t = time.perf_counter()
    st.pairs = scalar(con, f"SELECT count(*) FROM {p}")
    # Orient every pair record -> enterprise, drop pairs an analyst rejected, rank per record.
    run(
        con,
        f"""
        CREATE OR REPLACE TEMP TABLE {p}_ranked AS
        SELECT *,
               row_number() OVER w AS rn,
               lead(weight) OVER w AS runner_up,
               first_value(weight) OVER w AS best
        FROM (
            SELECT CASE WHEN source_dataset_l = 'records' THEN unique_id_l ELSE unique_id_r END AS record_key,
                   CASE WHEN source_dataset_l = 'records' THEN unique_id_r ELSE unique_id_l END AS enterprise_key,
                   CASE WHEN source_dataset_l = 'records' THEN name_l ELSE name_r END AS record_name,
                   match_weight AS weight, mw_name, mw_region, mw_id
            FROM {p}
        ) q
        WHERE {_rejected(source, "q.record_key", "q.enterprise_key")}
        WINDOW w AS (PARTITION BY record_key ORDER BY weight DESC, enterprise_key)
        """,
    )
    run(
        con,
        f"""
        INSERT INTO record_links (source, record_key, enterprise_key, method, weight, status, reviewer,
                                  decided_at, batch_id, created_at, record_name, detail)
        SELECT '{source}', q.record_key, q.enterprise_key, 'splink', q.weight,
               CASE WHEN q.rn = 1 AND q.weight >= {bands.accept}
                         AND (q.runner_up IS NULL OR q.weight - q.runner_up >= {bands.margin})
                    THEN 'auto' ELSE 'review' END,
               NULL, NULL, {_batch_expr(batch_id, "b")}, now(), q.record_name, {_detail_sql(model_id)}
        FROM {p}_ranked q JOIN {rec} b ON b.unique_id = q.record_key
        WHERE q.weight >= {bands.review}
          AND (q.rn = 1 OR (q.rn <= {bands.max_review} AND q.best - q.weight < {bands.margin}))
        """,
    )
    counts = dict(
        con.execute(
            f"""SELECT status, count(DISTINCT record_key) FROM record_links
                WHERE source = '{source}' AND method = 'splink' AND record_key IN (SELECT unique_id FROM {rec})
                GROUP BY status"""
        ).fetchall()
    )
    st.auto, st.review = int(counts.get("auto", 0)), int(counts.get("review", 0))
    cleanup()
    for tbl in (f"{p}_ranked", cand, f"{rec}_s"):
        run(con, f"DROP TABLE IF EXISTS {tbl}")
    st.seconds["write"] = time.perf_counter() - t


def link_records(
    con: duckdb.DuckDBPyConnection,
    source: str,
    keys_sql: str,
    *,
    batch_id: int | None,
    settings: dict | None = None,
    ent_filter: str = "true",
) -> LinkStats:
    """Link the records of ``source`` whose keys ``keys_sql`` selects (column ``record_key``).

    ``batch_id`` is recorded on the new links (the load they belong to); None
    takes each record's latest batch. ``ent_filter`` restricts the enterprises
    (a predicate on ``link_enterprises``, e.g. one registry batch's). Runs on
    the caller's connection and inside its transaction.
    """
    st = LinkStats(source)
    t0 = time.perf_counter()
    settings = settings if settings is not None else settings_for(con)
    bands = Bands.from_settings(settings)
    tag = uuid.uuid4().hex[:8]
    keys, rec = f"lk_keys_{tag}", f"lk_rec_{tag}"
    run(con, f"CREATE OR REPLACE TEMP TABLE {keys} AS {keys_sql}")
    st.records = record_features(con, source, keys, rec)
    run(con, f"DROP TABLE {keys}")
    if st.records and scalar(con, "SELECT count(*) FROM link_enterprises"):
        st.seconds["features"] = time.perf_counter() - t0
        st.regno = _deterministic(con, source, rec, batch_id, ent_filter)
        if scalar(con, f"SELECT count(*) FROM {rec}"):
            _score(con, source, rec, batch_id, ent_filter, bands, st, settings)
    st.unlinked = max(st.records - st.regno - st.auto - st.review, 0)
    run(con, f"DROP TABLE IF EXISTS {rec}")
    st.seconds["total"] = time.perf_counter() - t0
    return st


def stats_json(stats: list[LinkStats]) -> str:
    return json.dumps([s.as_json() for s in stats], ensure_ascii=False)
