"""Training the linkage model from the warehouse's own data, and keeping it.

- u (non-match agreement rates): Splink's random sampling over pairs of registry
  enterprises. Two different enterprises never match, so every sampled pair is a
  true non-match (sampling records against the registry would count the rare
  true matches as non-matches).
- m (match agreement rates): expectation maximisation over the records without a
  valid USCC against the enterprises they block with: once blocked on the name
  core (teaches region and ID), once on the ID parts (teaches the name, from the
  records whose USCC was mistyped). A session with too few pairs is skipped and
  its levels keep their priors.

Small deliveries do not train well, so the parameters are kept in ``link_models``
and reused by every later load; the first load with enough data trains, and
``crossinvest links retrain`` trains again on everything there is.
"""

from __future__ import annotations

import json
import logging

import duckdb

from crossinvest.linkage import model
from crossinvest.linkage.features import RECORD_SOURCES, id_parts, record_features
from crossinvest.linkage.model import COMPARISONS, Params
from crossinvest.linkage.util import first, scalar
from crossinvest.warehouse.connection import run

log = logging.getLogger(__name__)

MIN_ENTERPRISES = 200  # below this, random-pair u estimates are noise
MIN_RECORDS = 100  # records without a valid USCC needed to train m
MIN_PAIRS = 30  # blocked pairs an EM session needs
U_SAMPLE = 50_000  # registry rows sampled for u
U_PAIRS = 1e6
RECORD_SAMPLE = 50_000  # records per source for m
SEED = 4754


def active_params(con: duckdb.DuckDBPyConnection) -> tuple[int | None, Params]:
    """The active model's id and parameters; (None, priors) when none was trained."""
    row = first(
        con, "SELECT model_id, params FROM link_models WHERE active ORDER BY model_id DESC LIMIT 1"
    )
    if row is None:
        return None, Params.prior()
    return int(row[0]), Params.from_json(row[1])


def save_params(con: duckdb.DuckDBPyConnection, params: Params, reason: str) -> int:
    """Store ``params`` as the new active model; return its id."""
    model_id = scalar(con, "SELECT nextval('link_model_seq')")
    run(con, "UPDATE link_models SET active = false WHERE active")
    run(
        con,
        "INSERT INTO link_models VALUES (?, now(), true, ?, ?)",
        [model_id, reason, params.to_json()],
    )
    return int(model_id)


def _latest(lk, kind: str) -> dict[str, dict[str, float]]:
    """The values the latest training step gave each level; unobserved levels left out."""
    out: dict[str, dict[str, float]] = {}
    for comp in lk._settings_obj.comparisons:
        levels = {}
        for cl in comp._comparison_levels_excluding_null:
            trained = cl._trained_m_probabilities if kind == "m" else cl._trained_u_probabilities
            if (
                trained
                and isinstance(trained[-1]["probability"], int | float)
                and trained[-1]["probability"] > 0
            ):
                levels[cl.label_for_charts] = float(trained[-1]["probability"])
        out[comp.output_column_name] = levels
    return out


def _estimate_u(con: duckdb.DuckDBPyConnection, params: Params) -> dict:
    run(
        con,
        f"""CREATE OR REPLACE TEMP TABLE lk_u_sample AS
            SELECT unique_id, name, region, core, grp, form, name_key, id, {id_parts()}
            FROM link_enterprises USING SAMPLE reservoir({U_SAMPLE} ROWS) REPEATABLE ({SEED})""",
    )
    n = scalar(con, "SELECT count(*) FROM lk_u_sample")
    s = model.settings(None, link_type="dedupe_only")
    lk = model.linker(con, [("lk_u_sample", "registry")], s)
    pairs = min(U_PAIRS, n * (n - 1) / 2)
    lk.training.estimate_u_using_random_sampling(
        max_pairs=pairs, seed=SEED, min_count_per_level=None, num_chunks=1
    )
    seen = 0
    for comp, levels in _latest(lk, "u").items():
        for label in params.u[comp]:
            if (comp, label) in model.COUNTED_U:
                continue
            # A level the sample never saw is rarer than one in ``pairs``: half an observation.
            params.u[comp][label] = levels.get(label, 0.5 / pairs)
            seen += label in levels
    _renormalise(params.u)
    run(con, "DROP TABLE IF EXISTS lk_u_sample")
    return {"registry_sample": int(n), "pairs": int(pairs), "levels_estimated": seen}


def _renormalise(probs: dict[str, dict[str, float]]) -> None:
    """Levels of a comparison must sum to 1; rescale the trained ones around fixed tiny ones."""
    for levels in probs.values():
        total = sum(levels.values())
        if total > 0:
            for k in levels:
                levels[k] = levels[k] / total


def _training_records(con: duckdb.DuckDBPyConnection) -> int:
    """Temp table lk_train_rec: a sample of records without a valid USCC, both sources."""
    parts = []
    for source, s in RECORD_SOURCES.items():
        run(
            con,
            f"""CREATE OR REPLACE TEMP TABLE lk_train_keys_{source} AS
                SELECT record_key FROM (SELECT DISTINCT {s["key"]} AS record_key FROM {s["view"]}
                                        WHERE {s["uscc"]} IS NULL)
                USING SAMPLE reservoir({RECORD_SAMPLE} ROWS) REPEATABLE ({SEED})""",
        )
        record_features(con, source, f"lk_train_keys_{source}", f"lk_train_rec_{source}")
        parts.append(
            f"SELECT '{source}:' || unique_id AS unique_id, * EXCLUDE (unique_id, batch_id) "
            f"FROM lk_train_rec_{source}"
        )
    run(con, "CREATE OR REPLACE TEMP TABLE lk_train_rec AS " + " UNION ALL ".join(parts))
    for source in RECORD_SOURCES:
        run(con, f"DROP TABLE IF EXISTS lk_train_keys_{source}")
        run(con, f"DROP TABLE IF EXISTS lk_train_rec_{source}")
    return scalar(con, "SELECT count(*) FROM lk_train_rec")


def _estimate_m(con: duckdb.DuckDBPyConnection, params: Params) -> dict:
    from crossinvest.linkage.engine import candidates_sql

    n_rec = _training_records(con)
    if n_rec < MIN_RECORDS:
        run(con, "DROP TABLE IF EXISTS lk_train_rec")
        return {"records": int(n_rec), "sessions": []}
    run(con, f"CREATE OR REPLACE TEMP TABLE lk_train_ent AS {candidates_sql('lk_train_rec')}")
    s = model.settings(params, link_type="link_only")
    lk = model.linker(con, [("lk_train_rec", "records"), ("lk_train_ent", "registry")], s)
    sessions = []
    # Each session keeps the comparisons its blocking does not bias: pairs blocked on
    # the core teach region and ID, pairs blocked on an ID part teach the name.
    for label, rule, keep in (
        ("core", "l.core = r.core", ("region", "id")),
        # One ID key only: an OR of equalities would be a nested-loop join. Records whose
        # USCC was mistyped in characters 3–12 are a fair sample of all mistyped ones.
        ("id", "l.k_a = r.k_a", ("name",)),
    ):
        pairs = scalar(con, f"SELECT count(*) FROM lk_train_rec l JOIN lk_train_ent r ON {rule}")
        if pairs < MIN_PAIRS:
            sessions.append({"blocking": label, "pairs": int(pairs), "skipped": True})
            continue
        lk.training.estimate_parameters_using_expectation_maximisation(
            rule, fix_u_probabilities=True, estimate_without_term_frequencies=True
        )
        trained = _latest(lk, "m")
        for comp in keep:
            params.m[comp].update(trained[comp])
        sessions.append({"blocking": label, "pairs": int(pairs), "trained": list(keep)})
    # Levels no training pair reached keep their prior share (the generator's deliveries
    # have no typos, real ones do); each comparison is rescaled to sum to 1.
    _renormalise(params.m)
    for t in ("lk_train_rec", "lk_train_ent"):
        run(con, f"DROP TABLE IF EXISTS {t}")
    return {"records": int(n_rec), "sessions": sessions}


def train(con: duckdb.DuckDBPyConnection, reason: str = "retrain") -> tuple[int | None, Params]:
    """Train m and u on the warehouse's data and make them the active model.

    Returns (model id, params); (None, priors) when the registry is too small.
    """
    m_ent = scalar(con, "SELECT count(*) FROM link_enterprises")
    if m_ent < MIN_ENTERPRISES:
        return None, Params.prior()
    params = Params.prior()
    info = {"source": "trained", "reason": reason, "enterprises": int(m_ent)}
    info["u"] = _estimate_u(con, params)
    info["m"] = _estimate_m(con, params)
    params.info = info
    log.info("linkage model trained: %s", json.dumps(info, ensure_ascii=False))
    return save_params(con, params, reason), params


def ensure_model(con: duckdb.DuckDBPyConnection) -> tuple[int | None, Params]:
    """The active model; train one first if none exists and there is enough data."""
    model_id, params = active_params(con)
    if model_id is not None:
        return model_id, params
    n_rec = sum(
        scalar(con, f"SELECT count(DISTINCT {s['key']}) FROM {s['view']} WHERE {s['uscc']} IS NULL")
        for s in RECORD_SOURCES.values()
    )
    if n_rec >= MIN_RECORDS:
        trained_id, trained = train(con, reason="first")
        if trained_id is not None:
            return trained_id, trained
    return None, params


def describe(params: Params, scale: model.Scale | None = None) -> dict:
    """The parameters as the CLI shows them: per level m, u and log2(m/u).

    With ``scale`` the counted u (rare levels, see :mod:`crossinvest.linkage.model`)
    are those a prediction on this registry uses; the exact-name level is further
    adjusted per name at prediction time.
    """
    import math

    out = {}
    for comp in COMPARISONS:
        rows = []
        for d in model.level_dicts(comp, params, scale)[1:]:
            m, u = d["m_probability"], d["u_probability"]
            rows.append(
                {
                    "level": d["label_for_charts"],
                    "m": m,
                    "u": u,
                    "weight": math.log2(m / u) if u > 0 else None,
                }
            )
        out[comp] = rows
    return out
