"""The Splink model: comparisons, blocking, parameters and how they scale with the registry.

Three comparisons, each a ladder of levels (Splink's ``comparison_vector_value``
counts down from the first level):

- ``name`` — exact normalised name (core + 集团 + form),
  same core and 集团 with another form, same core, one core inside the other,
  one character apart (levenshtein on characters), jaro-winkler >= 0.88, else;
- ``region`` — the leading place of the name (上海, 青岛 …): same, else;
- ``id`` — for 18-character IDs only: within one character (a mistyped USCC:
  one substitution), same division (ID chars 3–8), else.

Scale. Every record matches (at most) one of the registry's M enterprises, so
the prior is 1/M. Agreement levels so rare that a random sample of pairs never
sees them — the same name, the same core, a USCC one character away — get their
u from counting instead: the average number of *other* registry enterprises at
that level, plus a floor (``COLLISION_FLOOR``), over M. The match weight of an
exact name in a registry where names are unique is then log2(m / floor) plus the
other comparisons, whatever M is: the bands in the settings mean the same for
20,000 and 10,000,000 enterprises. A name that several enterprises share gives
each of them the same weight, and the margin rule (best vs runner-up) sends the
record to review instead of choosing.

Everything else (m of every level, u of the common levels) is trained from the
data: u by Splink's random sampling over registry pairs (pairs of different
enterprises: non-matches by construction), m by expectation maximisation over
records against their blocked candidates (see :mod:`crossinvest.linkage.training`).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from typing import Any

import duckdb
from splink import DuckDBAPI, Linker, SettingsCreator

# Splink explains itself at WARNING level (levels it could not train, sample
# sizes); the loader's output is not the place. Training facts go to link_models.
logging.getLogger("splink").setLevel(logging.ERROR)

# Evidence cap: a name (or USCC) unique in the registry counts as if this many
# other enterprises shared it. 2**-12: a unique exact name is worth ~12 bits.
COLLISION_FLOOR = 2.0**-12

NAME_LEVELS: list[tuple[str, str]] = [
    ("exact", "name_key_l = name_key_r"),
    ("same_core_grp", "core_l = core_r AND grp_l = grp_r"),
    ("same_core", "core_l = core_r"),
    (
        "contains",
        "length(core_l) >= 2 AND length(core_r) >= 2 "
        "AND (contains(core_l, core_r) OR contains(core_r, core_l))",
    ),
    ("one_char", "levenshtein(core_l, core_r) <= 1"),
    ("similar", "{jaro_winkler}(core_l, core_r) >= 0.88"),
]
REGION_LEVELS: list[tuple[str, str]] = [("same", "region_l = region_r")]
ID_LEVELS: list[tuple[str, str]] = [
    # Both IDs have 18 characters (null level otherwise): levenshtein <= 1 is one substitution.
    ("one_char", "levenshtein(id_l, id_r) <= 1"),
    ("division", "id_div_l = id_div_r"),
]
COMPARISONS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "name": ("core_l IS NULL OR core_r IS NULL", NAME_LEVELS),
    "region": ("region_l IS NULL OR region_r IS NULL", REGION_LEVELS),
    "id": (
        "id_l IS NULL OR id_r IS NULL OR length(id_l) <> 18 OR length(id_r) <> 18",
        ID_LEVELS,
    ),
}
# Levels whose u is counted in the registry at prediction time (see module doc).
COUNTED_U = {
    ("name", "exact"),
    ("name", "same_core_grp"),
    ("name", "same_core"),
    ("id", "one_char"),
}

# Priors: used until a model is trained, and for any level training cannot see
# (e.g. no mistyped IDs yet). m: share of true matches at each level.
PRIOR_M: dict[str, dict[str, float]] = {
    "name": {
        "exact": 0.93,
        "same_core_grp": 0.03,
        "same_core": 0.005,
        "contains": 0.01,
        "one_char": 0.01,
        "similar": 0.01,
        "else": 0.005,
    },
    "region": {"same": 0.97, "else": 0.03},
    "id": {"one_char": 0.95, "division": 0.03, "else": 0.02},
}
PRIOR_U: dict[str, dict[str, float]] = {
    "name": {
        "exact": 1e-7,
        "same_core_grp": 1e-7,
        "same_core": 1e-7,
        "contains": 1e-4,
        "one_char": 1e-4,
        "similar": 1e-3,
        "else": 0.9989,
    },
    "region": {"same": 0.8, "else": 0.2},
    "id": {"one_char": 1e-9, "division": 0.05, "else": 0.95},
}

# Prediction blocking: exact name core, or an 18-character ID sharing two of its three parts
# (see features.id_parts).
BLOCKING_RULES = [
    "l.core = r.core",
    "l.k_a = r.k_a",
    "l.k_b = r.k_b",
    "l.k_c = r.k_c",
]


class TxDuckDBAPI(DuckDBAPI):
    """Splink's DuckDB backend on the warehouse connection, safe inside a transaction.

    Splink probes for tables by catching errors; inside a DuckDB transaction any
    error aborts the transaction, so probes look in the catalog instead. Its
    working tables are TEMP tables: never written to the warehouse file, gone
    with the connection, and rolled back with the load that made them.
    """

    def _kind(self, name: str) -> str | None:
        row = self._con.execute(
            "SELECT 'table' FROM duckdb_tables() WHERE table_name = $n "
            "UNION ALL SELECT 'view' FROM duckdb_views() WHERE view_name = $n LIMIT 1",
            {"n": name},
        ).fetchall()
        return row[0][0] if row else None

    def table_exists_in_database(self, table_name: str) -> bool:
        return self._kind(table_name) is not None

    def delete_table_from_database(self, name: str) -> None:
        kind = self._kind(name)
        if kind == "table":
            self._execute_sql_against_backend(f"DROP TABLE {name}")
        elif kind == "view":
            self._execute_sql_against_backend(f"DROP VIEW {name}")

    def _setup_for_execute_sql(self, sql: str, physical_name: str) -> str:
        self.delete_table_from_database(physical_name)
        return f"CREATE TEMP TABLE {physical_name} AS\n{sql}"


@dataclass
class Params:
    """m and u per comparison level (keyed by level label), and how they were obtained."""

    m: dict[str, dict[str, float]]
    u: dict[str, dict[str, float]]
    info: dict[str, Any]

    @classmethod
    def prior(cls) -> Params:
        return cls(
            {k: dict(v) for k, v in PRIOR_M.items()},
            {k: dict(v) for k, v in PRIOR_U.items()},
            {"source": "prior"},
        )

    def to_json(self) -> str:
        return json.dumps({"m": self.m, "u": self.u, "info": self.info}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Params:
        d = json.loads(text)
        return cls(d["m"], d["u"], d.get("info", {}))


@dataclass(frozen=True)
class Scale:
    """Registry facts the counted parameters depend on."""

    enterprises: int
    same_name: float  # sum over names of n(n-1), per enterprise: pairs sharing a name key / M
    shared: float  # share of enterprises whose name key another enterprise also has
    same_core_grp: float  # mean number of other enterprises with the same core + 集团, another form
    same_core: float  # ... with the same core, other 集团


def compute_scale(con: duckdb.DuckDBPyConnection) -> Scale:
    """Count, in ``link_enterprises``, how often names collide, and keep it in ``link_state``.

    One scan; grouping on 64-bit hashes of the keys (a hash collision among ten
    million names is negligible here, and hashes group several times faster
    than strings). Registry loads and rollbacks call this; predictions read it.
    """
    row = con.execute(
        """
        WITH h AS (SELECT hash(name_key) AS a, hash(core, grp) AS b, hash(core) AS c
                   FROM link_enterprises WHERE core IS NOT NULL)
        SELECT (SELECT count(*) FROM link_enterprises),
               (SELECT coalesce(sum(n * (n - 1)), 0) FROM (SELECT count(*) AS n FROM h GROUP BY a)),
               (SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM h GROUP BY a) WHERE n > 1),
               (SELECT coalesce(sum(n * (n - 1)), 0) FROM (SELECT count(*) AS n FROM h GROUP BY b)),
               (SELECT coalesce(sum(n * (n - 1)), 0) FROM (SELECT count(*) AS n FROM h GROUP BY c))
        """
    ).fetchall()[0]
    m, pairs_key, shared, pairs_grp, pairs_core = (int(x or 0) for x in row)
    m = max(m, 1)
    scale = Scale(
        m,
        pairs_key / m,
        shared / m,
        max(pairs_grp - pairs_key, 0) / m,
        max(pairs_core - pairs_grp, 0) / m,
    )
    con.execute("DELETE FROM link_state WHERE key = 'scale'")
    con.execute("INSERT INTO link_state VALUES ('scale', ?)", [json.dumps(scale.__dict__)])
    return scale


def registry_scale(con: duckdb.DuckDBPyConnection) -> Scale:
    """The registry facts kept by the last registry load or rollback (computed if missing)."""
    rows = con.execute("SELECT value FROM link_state WHERE key = 'scale'").fetchall()
    if rows:
        return Scale(**json.loads(rows[0][0]))
    return compute_scale(con)


# The one function whose name differs between the backends (Spark: Splink's UDF jar).
DIALECT_FUNCTIONS = {
    "duckdb": {"jaro_winkler": "jaro_winkler_similarity"},
    "spark": {"jaro_winkler": "jaro_winkler"},
}


def level_dicts(
    comp: str, params: Params | None, scale: Scale | None, dialect: str = "duckdb"
) -> list[dict[str, Any]]:
    """Splink comparison levels of ``comp`` (null level first) with their m and u.

    With ``scale`` (prediction), the exact-name level splits in two by whether
    the registry holds that name once (column ``n_name`` of the candidates):
    a unique name, u = floor / M; a shared name, u = (pairs sharing a name / M
    + floor) / M. The trained m of the exact level is shared between them in
    proportion to the enterprises with unique and shared names.
    """
    null_sql, levels = COMPARISONS[comp]
    if scale is not None and comp == "name":
        levels = [
            ("exact", "name_key_l = name_key_r AND coalesce(n_name_l, n_name_r) = 1"),
            ("exact_shared", "name_key_l = name_key_r"),
            *levels[1:],
        ]
    out: list[dict[str, Any]] = [
        {"sql_condition": null_sql, "label_for_charts": "null", "is_null_level": True}
    ]
    for label, sql in [*levels, ("else", "ELSE")]:
        level: dict[str, Any] = {
            "sql_condition": sql.format(**DIALECT_FUNCTIONS[dialect]),
            "label_for_charts": label,
        }
        if params is not None:
            m, u = _m_u(comp, label, params, scale)
            level["m_probability"], level["u_probability"] = m, u
        out.append(level)
    return out


def _m_u(comp: str, label: str, params: Params, scale: Scale | None) -> tuple[float, float]:
    if scale is None:
        return params.m[comp][label], params.u[comp][label]
    n = scale.enterprises
    if (comp, label) == ("name", "exact"):
        return params.m[comp]["exact"] * (1 - scale.shared), COLLISION_FLOOR / n
    if (comp, label) == ("name", "exact_shared"):
        return max(params.m[comp]["exact"] * scale.shared, 1e-6), (
            scale.same_name + COLLISION_FLOOR
        ) / n
    m, u = params.m[comp][label], params.u[comp][label]
    if (comp, label) in COUNTED_U:
        counted = {
            "same_core_grp": scale.same_core_grp,
            "same_core": scale.same_core,
            "one_char": 0.0,
        }
        u = (counted[label] + COLLISION_FLOOR) / n
    return m, u


def settings(
    params: Params | None,
    *,
    link_type: str = "link_only",
    scale: Scale | None = None,
    blocking: list[str] | None = None,
    dialect: str = "duckdb",
) -> SettingsCreator:
    """Splink settings for ``params`` (None: untrained), scaled to ``scale`` when given."""
    comparisons = [
        {
            "output_column_name": comp,
            "comparison_levels": level_dicts(comp, params, scale, dialect),
        }
        for comp in COMPARISONS
    ]
    lam = 1.0 / scale.enterprises if scale is not None else 1e-4
    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="unique_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=blocking
        if blocking is not None
        else list(BLOCKING_RULES),
        probability_two_random_records_match=min(lam, 0.5),
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=True,  # mw_* per comparison, for the reviewer
        additional_columns_to_retain=["name"],
    )


def linker(
    con: duckdb.DuckDBPyConnection, tables: list[tuple[str, str]], s: SettingsCreator
) -> Linker:
    """A Linker over existing tables ``(physical name, display name)`` on ``con``."""
    api = TxDuckDBAPI(con)
    frames = [api.register(name, dataset_display_name=display) for name, display in tables]
    return Linker(frames if len(frames) > 1 else frames[0], s, log_level=None)


def weight_of(params: Params, scale: Scale, levels: dict[str, str]) -> float:
    """Match weight of a pair at the given levels, without term frequencies (for docs and tests)."""
    lam = 1.0 / scale.enterprises
    w = math.log2(lam / (1 - lam))
    for comp, label in levels.items():
        if label == "null":
            continue
        dicts = {d["label_for_charts"]: d for d in level_dicts(comp, params, scale)}
        w += math.log2(dicts[label]["m_probability"] / dicts[label]["u_probability"])
    return w
