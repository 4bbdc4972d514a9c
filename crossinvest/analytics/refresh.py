"""Keeping the materialised statistics current, inside each load's and rollback's transaction.

A load touches some enterprises (the **seeds**): a registry delivery its
enterprises, a shareholders delivery the enterprises whose shareholders it
lists, a tax or stats delivery the enterprises its records are linked to. The
refresh recomputes only what depends on them:

1. origins of the shareholder rows of the seeds, and of every row whose
   *investor* is a seed (rule 2 reads the investor's registry entry): the
   enterprises owning those rows join the set (S1);
2. enterprise attributes, direct groups and penetration edges of S1;
3. penetration for S1 and every enterprise below it in the ownership graph, up
   to 10 levels, before and after the change (A);
4. tax and statistics of A;
5. the cube: the contributions of A before the change are subtracted and the
   new ones added (one merge keyed on the cube's key hash).

A tax or stats delivery skips 1–3. When the seeds are a large part of the
warehouse (an initial load), or the reference lookups or the horizon of months
changed, everything is rebuilt instead. What a load touched is recorded in
``an_batch_touch`` so its rollback (whose rows are gone by then) refreshes the
same enterprises.
"""

from __future__ import annotations

import duckdb

from crossinvest.analytics import materialize, model
from crossinvest.analytics.cube import CUBE_KEYS, CUBE_MEASURES, MONTH_COLS
from crossinvest.analytics.engine import DuckDBEngine
from crossinvest.analytics.lookups import refresh_lookups
from crossinvest.analytics.materialize import CUBE_KEY_SQL
from crossinvest.analytics.tables import get_state
from crossinvest.warehouse.connection import fetch_one, run

# Above this share of the enterprises, a full rebuild is cheaper than a delta.
FULL_FRACTION = 0.15
MAX_LEVELS = 10


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = fetch_one(con, sql)
    return int(row[0]) if row and row[0] is not None else 0


def batch_seeds_sql(batch_id: int, source: str) -> str:
    """SQL selecting the enterprise keys a loaded batch touched (its rows still present)."""
    links = f"SELECT enterprise_key FROM record_links WHERE batch_id = {int(batch_id)}"
    if source == "registry":
        rows = f"SELECT enterprise_key FROM registry_rows WHERE batch_id = {int(batch_id)}"
    elif source == "shareholders":
        rows = f"SELECT enterprise_uscc FROM shareholders_rows WHERE batch_id = {int(batch_id)}"
    elif source in ("tax", "stats"):
        table, uscc, key = (
            ("tax_rows", "taxpayer_uscc", "taxpayer_key")
            if source == "tax"
            else ("stats_rows", "unit_uscc", "unit_key")
        )
        rows = f"""
            SELECT r.enterprise_key FROM registry r
            WHERE r.uscc IN (SELECT {uscc} FROM {table} WHERE batch_id = {int(batch_id)})
            UNION
            SELECT enterprise_key FROM record_links
            WHERE source = '{source}' AND status IN ('auto', 'accepted')
              AND record_key IN (SELECT {key} FROM {table} WHERE batch_id = {int(batch_id)})
        """
    else:
        rows = "SELECT NULL::VARCHAR WHERE false"
    return f"SELECT DISTINCT k AS enterprise_key FROM ({rows} UNION ALL {links}) t(k) WHERE k IS NOT NULL"


def refresh_for_batch(
    con: duckdb.DuckDBPyConnection, batch_id: int, source: str, *, rolled_back: bool
) -> str:
    """Bring the statistics up to date after a load or a rollback; return 'full' or 'incremental'."""
    st = get_state(con)
    if st.get("built") != "1":
        return _full(con, batch_id, rolled_back)
    refresh_lookups(con)
    if materialize.lookup_signature(con) != st.get("lookup_sig"):
        return _full(con, batch_id, rolled_back)
    run(con, "CREATE OR REPLACE TEMP TABLE _an_seeds (enterprise_key VARCHAR)")
    if rolled_back:
        if _count(
            con,
            f"SELECT count(*) FROM an_batch_touch WHERE batch_id = {int(batch_id)} AND enterprise_key IS NULL",
        ):
            return _full(con, batch_id, rolled_back)
        run(
            con,
            f"INSERT INTO _an_seeds SELECT DISTINCT enterprise_key FROM an_batch_touch WHERE batch_id = {int(batch_id)}",
        )
    else:
        run(con, f"INSERT INTO _an_seeds {batch_seeds_sql(batch_id, source)}")
    n_seeds = _count(con, "SELECT count(*) FROM _an_seeds")
    n_ents = _count(con, "SELECT count(*) FROM an_enterprises")
    measure_only = source in ("tax", "stats")
    if not measure_only and n_seeds > max(1000, FULL_FRACTION * n_ents):
        return _full(con, batch_id, rolled_back)
    # A shareholders delivery leaves registry entries and tax/stats links alone,
    # unless linkage tied records in the same load (or it is a rollback, whose
    # links are gone by now): then everything of the touched enterprises is redone.
    registry_changed = (
        rolled_back
        or source != "shareholders"
        or bool(_count(con, f"SELECT count(*) FROM record_links WHERE batch_id = {int(batch_id)}"))
    )
    refresh_enterprises(
        con, "_an_seeds", measure_only=measure_only, registry_changed=registry_changed
    )
    if rolled_back:
        run(con, f"DELETE FROM an_batch_touch WHERE batch_id = {int(batch_id)}")
    else:
        run(
            con,
            f"INSERT INTO an_batch_touch SELECT {int(batch_id)}, enterprise_key FROM _an_touched",
        )
    run(con, "DROP TABLE IF EXISTS _an_seeds")
    run(con, "DROP TABLE IF EXISTS _an_touched")
    return "incremental"


def _full(con: duckdb.DuckDBPyConnection, batch_id: int, rolled_back: bool) -> str:
    materialize.rebuild_all(con)
    run(con, f"DELETE FROM an_batch_touch WHERE batch_id = {int(batch_id)}")
    if not rolled_back:
        run(con, f"INSERT INTO an_batch_touch VALUES ({int(batch_id)}, NULL)")
    run(con, "DROP TABLE IF EXISTS _an_seeds")
    return "full"


def refresh_enterprises(
    con: duckdb.DuckDBPyConnection,
    seeds: str,
    *,
    measure_only: bool = False,
    registry_changed: bool = True,
) -> None:
    """Recompute everything that depends on the enterprises in table ``seeds``.

    ``registry_changed``: the seeds' registry entries may have changed (then the
    rows naming them as investor are re-derived, rule 2, and their tax and stats
    links re-read); False for a shareholders delivery. Leaves the set of
    enterprises whose figures were recomputed in the temp table ``_an_touched``. Public so that an analyst's link decision (linkage)
    can refresh the enterprises it re-tied: pass a table of their keys.
    """
    eng = DuckDBEngine(con)
    inp = materialize.inputs(eng)
    horizon = materialize.state_horizon(con)
    if horizon is None:
        materialize.rebuild_all(con)
        run(con, f"CREATE OR REPLACE TEMP TABLE _an_touched AS SELECT enterprise_key FROM {seeds}")
        return

    def contributions_into(target: str, keys: str, create: bool) -> None:
        # One compiled statement for every key set: the keys are copied to _an_keys.
        run(
            con,
            f"CREATE OR REPLACE TEMP TABLE _an_keys AS SELECT DISTINCT enterprise_key FROM {keys}",
        )
        sql = materialize.cube_rows_sql(eng, *horizon, keys="_an_keys")
        run(
            con,
            f"CREATE OR REPLACE TEMP TABLE {target} AS {sql}"
            if create
            else f"INSERT INTO {target} {sql}",
        )

    if measure_only:
        run(
            con,
            f"""CREATE OR REPLACE TEMP TABLE _an_touched AS SELECT DISTINCT enterprise_key FROM {seeds}
                WHERE enterprise_key IN (SELECT enterprise_key FROM an_groups)""",
        )
        contributions_into("_an_old", "_an_touched", create=True)
        _delete_for(con, "_an_touched", ("an_yearly",))
        materialize.build_measures(eng, inp, "_an_touched")
    else:
        # S1: the seeds and, when their registry entries changed, the enterprises
        # owning a shareholder row whose investor is a seed (rule 2 reads it).
        investors = (
            f"""UNION SELECT enterprise_uscc FROM investor_origins
                WHERE investor_enterprise_key IN (SELECT enterprise_key FROM {seeds})
                   OR investor_uscc IN (SELECT enterprise_key FROM {seeds})"""
            if registry_changed
            else ""
        )
        run(
            con,
            f"CREATE OR REPLACE TEMP TABLE _an_s1 AS SELECT enterprise_key FROM {seeds} {investors}",
        )

        # A: S1, everything owned through it (10 levels) and the parents of its
        # edges — with the edges as they are now, before the change.
        run(
            con,
            """CREATE OR REPLACE TEMP TABLE _an_old_edges AS SELECT DISTINCT child_key, parent_key FROM an_pen_edges
               WHERE child_key IN (SELECT enterprise_key FROM _an_s1)""",
        )
        _descendants(con, "_an_s1", "_an_touched")
        run(
            con,
            """INSERT INTO _an_touched SELECT parent_key FROM _an_old_edges
               EXCEPT SELECT enterprise_key FROM _an_touched""",
        )
        contributions_into("_an_old", "_an_touched", create=True)
        run(
            con,
            "CREATE OR REPLACE TEMP TABLE _an_had AS SELECT DISTINCT enterprise_key FROM _an_r_an_groups",
        )
        run(
            con,
            "DELETE FROM investor_origins WHERE enterprise_uscc IN (SELECT enterprise_key FROM _an_s1)",
        )
        sh = materialize.restrict(eng, "shareholders", "enterprise_uscc", "_an_s1")
        eng.materialize(
            lambda: model.origins(eng.table(sh), inp.registry, inp.regions),
            "_an_k_origins",
            key=f"origins:{sh}",
        )
        run(con, "INSERT INTO investor_origins BY NAME SELECT * FROM _an_k_origins")
        _delete_for(con, "_an_s1", ("an_enterprises", "an_groups"))
        run(con, "DELETE FROM an_pen_edges WHERE child_key IN (SELECT enterprise_key FROM _an_s1)")
        materialize.build_enterprise_tables(eng, inp, "_an_s1", origins="_an_k_origins")
        # Only if S1's edges changed can paths now reach enterprises outside A.
        changed = _count(
            con,
            """SELECT count(*) FROM (
                 (SELECT DISTINCT child_key, parent_key FROM an_pen_edges
                  WHERE child_key IN (SELECT enterprise_key FROM _an_s1)
                  EXCEPT SELECT child_key, parent_key FROM _an_old_edges)
                 UNION ALL
                 (SELECT child_key, parent_key FROM _an_old_edges
                  EXCEPT SELECT child_key, parent_key FROM an_pen_edges
                  WHERE child_key IN (SELECT enterprise_key FROM _an_s1)))""",
        )
        if changed:
            _descendants(con, "_an_s1", "_an_desc")
            run(
                con,
                """CREATE OR REPLACE TEMP TABLE _an_extra AS
                   (SELECT enterprise_key FROM _an_desc
                    UNION SELECT parent_key FROM an_pen_edges WHERE child_key IN (SELECT enterprise_key FROM _an_s1))
                   EXCEPT SELECT enterprise_key FROM _an_touched""",
            )
            if _count(con, "SELECT count(*) FROM _an_extra"):
                # Their tables are untouched so far: these are still their old figures.
                contributions_into("_an_old", "_an_extra", create=False)
                run(con, "INSERT INTO _an_had SELECT DISTINCT enterprise_key FROM _an_r_an_groups")
                run(con, "INSERT INTO _an_touched SELECT enterprise_key FROM _an_extra")
        run(
            con,
            "DELETE FROM an_groups WHERE penetrate AND enterprise_key IN (SELECT enterprise_key FROM _an_touched)",
        )
        run(
            con,
            "DELETE FROM an_pen_start WHERE start_key IN (SELECT enterprise_key FROM _an_touched)",
        )
        materialize.build_pen(eng, "_an_touched")
        if registry_changed:
            _delete_for(con, "_an_touched", ("an_yearly",))
            materialize.build_measures(eng, inp, "_an_touched")
        else:
            # Tax and stats did not move: only enterprises entering or leaving the
            # statistics gain or lose their yearly rows.
            run(
                con,
                """CREATE OR REPLACE TEMP TABLE _an_has AS SELECT DISTINCT enterprise_key FROM an_groups
                   WHERE enterprise_key IN (SELECT enterprise_key FROM _an_touched)""",
            )
            run(
                con,
                """DELETE FROM an_yearly WHERE enterprise_key IN
                   (SELECT enterprise_key FROM _an_had EXCEPT SELECT enterprise_key FROM _an_has)""",
            )
            run(
                con,
                """CREATE OR REPLACE TEMP TABLE _an_ykeys AS
                   SELECT enterprise_key FROM _an_has EXCEPT SELECT enterprise_key FROM _an_had""",
            )
            if _count(con, "SELECT count(*) FROM _an_ykeys"):
                materialize.build_measures(eng, inp, "_an_ykeys")
        for t in (
            "_an_s1",
            "_an_desc",
            "_an_extra",
            "_an_old_edges",
            "_an_k_origins",
            "_an_k_ents",
            "_an_had",
            "_an_has",
            "_an_ykeys",
        ):
            run(con, f"DROP TABLE IF EXISTS {t}")
    new_h = materialize.compute_horizon(con)
    n_touched = _count(con, "SELECT count(*) FROM _an_touched")
    n_cube = _count(con, "SELECT count(*) FROM an_enterprises")
    if new_h != horizon or n_touched > FULL_FRACTION * max(n_cube, 1):
        materialize.rebuild_cube(con, new_h)
    else:
        contributions_into("_an_new", "_an_touched", create=True)
        merge_delta(con, "_an_old", "_an_new")
    for t in ("_an_old", "_an_new", "_an_keys"):
        run(con, f"DROP TABLE IF EXISTS {t}")
    eng.drop_all()


def _delete_for(con: duckdb.DuckDBPyConnection, keys: str, tables: tuple[str, ...]) -> None:
    for t in tables:
        run(con, f"DELETE FROM {t} WHERE enterprise_key IN (SELECT enterprise_key FROM {keys})")


def _descendants(
    con: duckdb.DuckDBPyConnection, seeds: str, out: str, extra_edges: str | None = None
) -> None:
    """``out`` := ``seeds`` and every enterprise owned through them, up to 10 levels.

    ``extra_edges`` (child_key, parent_key) are followed as well (edges just removed).
    """
    edges = (
        "an_pen_edges"
        if extra_edges is None
        else (
            f"(SELECT child_key, parent_key FROM an_pen_edges UNION ALL SELECT child_key, parent_key FROM {extra_edges})"
        )
    )
    run(con, f"CREATE OR REPLACE TEMP TABLE {out} AS SELECT DISTINCT enterprise_key FROM {seeds}")
    run(con, f"CREATE OR REPLACE TEMP TABLE _an_front AS SELECT enterprise_key FROM {out}")
    for _ in range(MAX_LEVELS):
        run(
            con,
            f"""CREATE OR REPLACE TEMP TABLE _an_next AS
                SELECT DISTINCT child_key AS enterprise_key FROM {edges} e
                WHERE parent_key IN (SELECT enterprise_key FROM _an_front)
                  AND child_key NOT IN (SELECT enterprise_key FROM {out})""",
        )
        if not _count(con, "SELECT count(*) FROM _an_next"):
            break
        run(con, f"INSERT INTO {out} SELECT enterprise_key FROM _an_next")
        run(con, "CREATE OR REPLACE TEMP TABLE _an_front AS SELECT enterprise_key FROM _an_next")
    run(con, "DROP TABLE IF EXISTS _an_front")
    run(con, "DROP TABLE IF EXISTS _an_next")


def merge_delta(con: duckdb.DuckDBPyConnection, old: str, new: str) -> None:
    """an_cube (and each roll-up) += new − old, row by row of the cube key; rows that become empty go."""
    keys = ", ".join(("kind", "level", *CUBE_KEYS))
    meas = ", ".join(f"sum({m}) AS {m}" for m in CUBE_MEASURES)
    neg = ", ".join(f"-{m} AS {m}" for m in CUBE_MEASURES)
    plain = ", ".join(CUBE_MEASURES)
    run(
        con,
        f"""CREATE OR REPLACE TEMP TABLE _an_delta AS
            SELECT {keys}, {meas}, {CUBE_KEY_SQL} AS ck FROM (
                SELECT {keys}, {plain} FROM {new}
                UNION ALL
                SELECT {keys}, {neg} FROM {old}
            ) GROUP BY {keys}""",
    )
    _merge_into(con, "an_cube", "_an_delta")
    for table in materialize.ROLLUPS:
        run(
            con,
            f"CREATE OR REPLACE TEMP TABLE _an_delta_r AS {materialize.rollup_sql(table, '_an_delta')}",
        )
        _merge_into(con, table, "_an_delta_r")
    for t in ("_an_delta", "_an_delta_r"):
        run(con, f"DROP TABLE IF EXISTS {t}")


def _merge_into(con: duckdb.DuckDBPyConnection, target: str, delta: str) -> None:
    keys = ", ".join(("kind", "level", *CUBE_KEYS))
    meas = ", ".join(f"sum({m}) AS {m}" for m in CUBE_MEASURES)
    plain = ", ".join(CUBE_MEASURES)
    nonzero = ", ".join(f"abs(coalesce({m}, 0))" for m in (*MONTH_COLS, "rev"))
    run(
        con,
        f"""CREATE OR REPLACE TEMP TABLE _an_merged AS
            SELECT {keys}, {meas}, ck FROM (
                SELECT {keys}, {plain}, ck FROM {target} WHERE ck IN (SELECT ck FROM {delta})
                UNION ALL
                SELECT {keys}, {plain}, ck FROM {delta}
            ) GROUP BY {keys}, ck""",
    )
    run(con, f"DELETE FROM {target} WHERE ck IN (SELECT ck FROM {delta})")
    run(
        con,
        f"""INSERT INTO {target} BY NAME SELECT * FROM _an_merged
            WHERE (src = 0 AND n <> 0)
               OR (src = 1 AND (greatest({nonzero}) > 1e-9 OR coalesce(emp, 0) <> 0))""",
    )
    run(con, "DROP TABLE IF EXISTS _an_merged")


def refresh_for_enterprises(
    con: duckdb.DuckDBPyConnection, enterprise_keys: list[str], *, measures_only: bool
) -> None:
    """Refresh the statistics of these enterprises, inside the caller's transaction.

    For changes outside a load: an analyst accepting or rejecting a link
    (``measures_only=True``: only tax and statistics move), an edited registry
    entry (``measures_only=False``).
    """
    if not enterprise_keys:
        return
    run(con, "CREATE OR REPLACE TEMP TABLE _an_seeds (enterprise_key VARCHAR)")
    con.executemany("INSERT INTO _an_seeds VALUES (?)", [[k] for k in enterprise_keys])
    refresh_enterprises(con, "_an_seeds", measure_only=measures_only)
    for t in ("_an_seeds", "_an_touched"):
        run(con, f"DROP TABLE IF EXISTS {t}")
