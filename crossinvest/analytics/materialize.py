"""Building the materialised statistics on DuckDB, in full or for a set of enterprises.

Everything here runs inside the caller's transaction and never commits: a load
or rollback and the refresh of its figures are one unit of work.

The per-enterprise tables are the Ibis expressions of ``model``/``penetration``
stored; ``an_cube`` is ``cube.contributions`` for every kind and origin level
over the horizon (the years the tax and statistics data cover).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import ibis
import ibis.expr.types as ir

from crossinvest.analytics import cube, model, penetration
from crossinvest.analytics.engine import DuckDBEngine, Engine
from crossinvest.analytics.lookups import refresh_lookups
from crossinvest.analytics.measures import build_measures, compute_horizon
from crossinvest.analytics.subsets import insert_captured, restrict
from crossinvest.analytics.tables import LEVELS, ORIGINS_EH, get_state, set_state
from crossinvest.warehouse.connection import fetch_all, fetch_one, run, table_ddl

CUBE_KEY_SQL = (
    "hash(kind, level, mask, o_prov, o_pref, o_dist, e_region, e_div, e_sec, est_b, end_b, src, tm)"
)
# Roll-ups of an_cube without some enterprise columns (NULL there): an answer reads
# the smallest one holding the columns it needs (query.cube_table).
ROLLUPS: dict[str, tuple[str, ...]] = {
    "an_cube_r0": (),
    "an_cube_r1": ("e_region",),
    "an_cube_r2": ("e_div", "e_sec"),
}
E_COLS = ("e_region", "e_div", "e_sec")
ALL_TABLES = (
    "investor_origins",
    "an_enterprises",
    "an_groups",
    "an_groups_by_key",
    "an_pen_edges",
    "an_pen_start",
    "an_yearly",
    "an_cube",
    *ROLLUPS,
)
KINDS = ("inbound", "outbound")
# an_groups' direct rows are stored in this order (penetrated rows follow,
# unsorted): an enterprise list filtered by origin then reads only that origin's
# row groups (11 ms instead of 0.3 s at 42M rows).
GROUPS_ORDER = "kind, origin_code, enterprise_key"


@dataclass
class Inputs:
    """The warehouse tables the statistics read, as unbound Ibis tables."""

    registry: ir.Table
    shareholders: ir.Table
    tax_linked: ir.Table
    stats_linked: ir.Table
    regions: ir.Table
    industries: ir.Table
    support: ir.Table


def inputs(eng: Engine) -> Inputs:
    return Inputs(
        registry=eng.table("registry"),
        shareholders=eng.table("shareholders"),
        tax_linked=eng.table("tax_linked"),
        stats_linked=eng.table("stats_linked"),
        regions=eng.table("an_region_lookup"),
        industries=eng.table("an_industry_lookup"),
        support=eng.table("an_support_lookup"),
    )


def lookup_signature(con: duckdb.DuckDBPyConnection) -> str:
    """Changes when the region lookup does (a reference-data update needs a full rebuild)."""
    row = fetch_one(
        con,
        "SELECT count(*), coalesce(sum(hash(code, province_code, prefecture_code, district_code, domestic)), 0) "
        "FROM an_region_lookup",
    )
    assert row is not None  # an aggregate returns one row
    return f"{row[0]}:{row[1]}"


def rebuild_all(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """Recompute every analytics table from the warehouse; return seconds per step.

    The tables are dropped and created again, empty, rather than emptied with a
    DELETE: DuckDB removes deleted rows from a table's indexes when the
    transaction commits, and at 10M enterprises that commit ran out of the
    2.5 GB memory limit (and its rollback failed with it). The new tables have no
    lookup indexes yet; the caller builds them after committing, with
    ``warehouse.lookups.ensure_indexes``.
    """
    # Rows keep no order unless a statement asks for one (ORDER BY still holds):
    # keeping every insert's order made DuckDB buffer rows, and the measures step
    # at 10M enterprises failed to pin a block under the 2.5 GB limit.
    keep_order = fetch_one(con, "SELECT current_setting('preserve_insertion_order')")
    run(con, "SET preserve_insertion_order = false")
    try:
        return _rebuild_all(con)
    finally:
        if keep_order and keep_order[0]:
            run(con, "SET preserve_insertion_order = true")


def _rebuild_all(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    refresh_lookups(con)
    eng = DuckDBEngine(con)
    inp = inputs(eng)
    for t in ALL_TABLES:
        recreate_empty(con, t)
    insert_all_origins(eng, inp)
    timings["origins"] = time.perf_counter() - t0
    build_enterprise_tables(eng, inp, None, timings)
    build_pen(eng, None, timings)
    t1 = time.perf_counter()
    copy_groups_by_key(con)
    timings["groups_by_key"] = time.perf_counter() - t1
    build_measures(eng, inp, None, timings)
    t1 = time.perf_counter()
    horizon = compute_horizon(con)
    rebuild_cube(con, horizon)
    timings["cube"] = time.perf_counter() - t1
    set_state(con, built="1", h0=horizon[0], h1=horizon[1], lookup_sig=lookup_signature(con))
    mark_sorted_bodies(con)
    eng.drop_all()
    timings["total"] = time.perf_counter() - t0
    return timings


def insert_all_origins(eng: DuckDBEngine, inp: Inputs) -> None:
    """Fill the empty ``investor_origins`` with every current holding, stored by ``eh``.

    In two steps: sorting the join's output in the same statement ran out of the
    memory budget at 27M holdings; sorting a stored table spills instead (at 10M
    enterprises: 20 s to compute, 73 s to store sorted against 41 s unsorted).
    """
    t = eng.materialize(
        lambda: model.origins(inp.shareholders, inp.registry, inp.regions),
        "_an_all_origins",
        key="origins:all",
    )
    append_origins(eng.con, t.get_name())
    eng.drop(t)


def append_origins(con: duckdb.DuckDBPyConnection, table: str, *, refresh: bool = False) -> None:
    """Append origin rows (``model.origins``'s columns) from ``table``, with ``eh``, sorted by it.

    A full rebuild's rows are the table's sorted body. A refresh's rows follow it,
    marked ``appended``; each refresh takes the rows earlier refreshes appended
    (those still current) into its own append, so that everything after the body
    stays one sorted run. A lookup then reads a row group or two of the body and
    one of the tail, where a tail of one run per refresh cost a row group per
    refresh (the chain at 10M: 41 ms after a rebuild, 141 ms after six refreshes).
    """
    if not refresh:
        run(
            con,
            f"INSERT INTO investor_origins BY NAME "
            f"SELECT *, {ORIGINS_EH} AS eh FROM {table} ORDER BY eh",
        )
        return
    run(
        con,
        "CREATE OR REPLACE TEMP TABLE _an_origins_tail AS "
        "SELECT * EXCLUDE (appended) FROM investor_origins WHERE appended",
    )
    run(con, "DELETE FROM investor_origins WHERE appended")
    run(
        con,
        f"""INSERT INTO investor_origins BY NAME
            SELECT *, true AS appended FROM (
                SELECT * FROM _an_origins_tail
                UNION ALL BY NAME SELECT *, {ORIGINS_EH} AS eh FROM {table})
            ORDER BY eh""",
    )
    run(con, "DROP TABLE _an_origins_tail")


def rebuild_origins(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild ``investor_origins`` alone (its rows do not change, only its columns and order).

    For a migration that adds columns: filling them by an UPDATE joined to 27M
    holdings ran out of the memory budget at 10M enterprises; this is the full
    rebuild's own step (about 95 s there).
    """
    keep_order = fetch_one(con, "SELECT current_setting('preserve_insertion_order')")
    # As in rebuild_all: with insertion order kept, the sort ran out of memory.
    run(con, "SET preserve_insertion_order = false")
    try:
        refresh_lookups(con)
        eng = DuckDBEngine(con)
        inp = inputs(eng)
        recreate_empty(con, "investor_origins")
        insert_all_origins(eng, inp)
        eng.drop_all()
    finally:
        if keep_order and keep_order[0]:
            run(con, "SET preserve_insertion_order = true")


# Tables a full rebuild stores in key order and a page reads by key (an enterprise
# list's page): each refresh keeps the rows appended since as one sorted run.
SORTED_BY_KEY = ("an_enterprises", "an_yearly", "an_groups_by_key")


def copy_groups_by_key(con: duckdb.DuckDBPyConnection, rows: str = "an_groups") -> None:
    """Append ``rows`` (an_groups' rows, or a refresh's copy of some) to ``an_groups_by_key``, sorted."""
    run(con, f"INSERT INTO an_groups_by_key BY NAME SELECT * FROM {rows} ORDER BY enterprise_key")


def mark_sorted_bodies(
    con: duckdb.DuckDBPyConnection, tables: Sequence[str] = SORTED_BY_KEY
) -> None:
    """After a full rebuild: record where each ``SORTED_BY_KEY`` table's sorted body ends."""
    for table in tables:
        row = fetch_one(con, f"SELECT count(*) FROM {table}")
        set_state(con, **{f"body:{table}": row[0] if row else 0})


def sort_tails(con: duckdb.DuckDBPyConnection) -> None:
    """Rewrite the rows refreshes appended after each ``SORTED_BY_KEY`` table's body as one sorted run.

    A refresh appends its rows unsorted: each of its row groups spans every key,
    so a lookup by key read one more row group per refresh (an enterprise list's
    page at 10M: 7 of 95 row groups of an_enterprises after eight refreshes, 71
    ms -> 103 ms). The body is the rows a full rebuild wrote, rowids below the
    mark: rows appended get larger rowids. Should DuckDB ever renumber rows (it
    may compact deletions at a checkpoint), some appended rows count as body and
    stay where they are: slower lookups, never different rows.
    """
    st = get_state(con)
    for table in SORTED_BY_KEY:
        body = st.get(f"body:{table}")
        if body is None:
            continue  # not rebuilt since this was introduced: no body known
        tail = f"_an_tail_{table}"
        run(
            con,
            f"CREATE OR REPLACE TEMP TABLE {tail} AS SELECT * FROM {table} WHERE rowid >= {int(body)}",
        )
        run(con, f"DELETE FROM {table} WHERE rowid >= {int(body)}")
        run(con, f"INSERT INTO {table} SELECT * FROM {tail} ORDER BY enterprise_key")
        run(con, f"DROP TABLE {tail}")


def recreate_empty(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Drop ``table`` (its indexes with it) and create it again, empty, from its own DDL."""
    ddl = table_ddl(con, table)
    run(con, f'DROP TABLE "{table}"')
    run(con, ddl)


def build_enterprise_tables(
    eng: DuckDBEngine,
    inp: Inputs,
    keys: str | None,
    timings: dict[str, float] | None = None,
    origins: str | None = None,
    capture_groups: str | None = None,
) -> None:
    """Insert an_enterprises, direct an_groups and an_pen_edges (for the enterprises in table ``keys``, or all).

    ``origins``: a table holding exactly those enterprises' origin rows (saves
    reading them back from investor_origins). Their old rows must have been
    deleted first; penetration, tax and stats follow in ``build_pen`` and
    ``build_measures``. ``capture_groups``: a temp table that receives a copy
    of the an_groups rows written (the an_enterprises rows are in ``_an_k_ents``).
    """
    t0 = time.perf_counter()
    o = origins or restrict(eng, "investor_origins", "enterprise_uscc", keys)
    if keys is None:
        e = "an_enterprises"
        eng.insert(
            lambda: model.enterprises(inp.registry, inp.regions, owned=eng.table(o)),
            e,
            key=f"ents:{o}",
            order_by="enterprise_key",  # a list's page is the first keys: a top-N skips the rest
        )
    else:
        # Built into a temp table first, then appended: the groups read it without
        # scanning an_enterprises again.
        e = "_an_k_ents"
        eng.materialize(
            lambda: model.enterprises(inp.registry, inp.regions, owned=eng.table(o)),
            e,
            key=f"ents:{o}",
        )
        run(eng.con, f"INSERT INTO an_enterprises BY NAME SELECT * FROM {e}")
    insert_captured(
        eng,
        lambda: model.direct_groups(eng.table(o), eng.table(e)),
        "an_groups",
        f"direct:{o}:{e}",
        capture_groups,
        order_by=GROUPS_ORDER,
    )
    eng.insert(
        lambda: model.pen_edges(eng.table(o), eng.table(e)), "an_pen_edges", key=f"edges:{o}:{e}"
    )
    if timings is not None:
        timings["enterprises_groups"] = time.perf_counter() - t0


def build_pen(
    eng: DuckDBEngine,
    targets: str | None,
    timings: dict[str, float] | None = None,
    capture_groups: str | None = None,
) -> None:
    """Penetrated groups for the enterprises in table ``targets`` (all when None).

    Their old penetrated groups and an_pen_start rows must have been deleted.
    ``capture_groups``: a temp table that receives a copy of the rows written.
    """
    t0 = time.perf_counter()
    tgt = eng.table(targets) if targets else None
    for kind in KINDS:
        side = "in" if kind == "inbound" else "out"
        tag = f"{side}_{targets or 'all'}"
        groups = eng.table("an_groups")
        terms = groups.filter((groups.kind == kind) & ~groups.penetrate).select(
            "enterprise_key", "origin_code", "via_person", "share"
        )
        edges_all = eng.table("an_pen_edges")

        def side_edges(edges_all: ir.Table = edges_all, side: str = side) -> ir.Table:
            return edges_all.filter(edges_all.side == side).select(
                "child_key", "parent_key", "share"
            )

        edges = eng.materialize(
            side_edges,
            f"_an_edges_{side}",
            key=f"pen_edges:{side}",
        )
        starts = edges.select(start_key=edges.parent_key).distinct()
        if tgt is not None:
            starts = starts.filter(starts.start_key.isin(tgt.enterprise_key))
        n_starts = fetch_all(
            eng.con,
            f'SELECT count(*) FROM "{edges.get_name()}"'
            + (
                ""
                if tgt is None
                else f' WHERE parent_key IN (SELECT enterprise_key FROM "{targets}")'
            ),
        )[0][0]
        # G, the enterprises paths pass through: read by both steps below.
        g = penetration.engine_parents(eng, edges, f"_an_pen_{tag}_gp", f"pen:{tag}:gp")
        if n_starts:  # a small delivery often reaches no enterprise paths pass through
            res = penetration.enumerate_paths(eng, terms, edges, starts, tag=tag, parents=g)

            def with_side(res: ir.Table = res, side: str = side) -> ir.Table:
                return res.mutate(side=ibis.literal(side))

            eng.insert(
                with_side,
                "an_pen_start",
                key=f"pen_start:{tag}",
            )
            eng.drop(res)
        ps = eng.table("an_pen_start")
        ps = ps.filter(ps.side == side).drop("side")
        ents = eng.table("an_enterprises")
        parts, temps = penetration.pen_group_parts(
            eng, terms, edges, ps, ents, kind, tgt, tag=tag, parents=g
        )
        for i, part in enumerate(parts):
            # Each part stored in key order: a profile's penetrated origins then read
            # a row group or two per part, where unsorted they scanned ~29M rows
            # (0.2-0.4 s at 10M; the index on an_groups is over the memory budget).
            insert_captured(
                eng,
                part,
                "an_groups",
                f"pen_groups:{tag}:{i}",
                capture_groups,
                order_by="enterprise_key",
            )
        for t in temps:
            eng.drop(t)
        eng.drop(g)
        eng.drop(edges)
    if timings is not None:
        timings["penetration"] = time.perf_counter() - t0


def cube_rows_sql(
    eng: DuckDBEngine,
    h0: int,
    h1: int,
    copies: tuple[str, str, str] | None = None,
) -> str:
    """SQL of the cube rows of every kind and level.

    Read from an_groups, an_enterprises and an_yearly, or from ``copies`` of some
    enterprises' rows of those three (a refresh's before and after). The
    compiled SQL itself is cached.
    """
    g, e, y = copies or ("an_groups", "an_enterprises", "an_yearly")

    def build() -> ir.Table:
        regions = eng.table("an_region_lookup")
        parts = [
            cube.contributions(
                eng.table(g),
                eng.table(e),
                eng.table(y),
                regions,
                kind=kind,
                levels=LEVELS[kind],
                h0=h0,
                h1=h1,
            ).mutate(kind=ibis.literal(kind))
            for kind in KINDS
        ]
        return ibis.union(*parts)

    return eng.sql(build, key=f"cube_rows:{h0}:{h1}:{g}:{e}:{y}")


def rebuild_cube(con: duckdb.DuckDBPyConnection, horizon: tuple[int, int]) -> None:
    """Recompute an_cube and its roll-ups from the per-enterprise tables.

    Rows are ordered by kind, level and kind of row, so an answer (which reads one
    kind and level) scans few row groups.
    """
    eng = DuckDBEngine(con)
    run(con, "DELETE FROM an_cube")
    sql = cube_rows_sql(eng, *horizon)
    run(
        con,
        f"INSERT INTO an_cube BY NAME SELECT *, {CUBE_KEY_SQL} AS ck FROM ({sql}) ORDER BY kind, level, src, tm",
    )
    for table in ROLLUPS:
        run(con, f"DELETE FROM {table}")
        run(
            con,
            f"INSERT INTO {table} BY NAME {rollup_sql(table, 'an_cube')} ORDER BY kind, level, src, tm",
        )
    set_state(con, h0=horizon[0], h1=horizon[1])


def rollup_sql(table: str, source: str) -> str:
    """``source`` (cube-shaped) summed to the keys of roll-up ``table``, with its ck."""
    kept = ROLLUPS[table]
    cols = [
        c if c not in E_COLS or c in kept else f"NULL::VARCHAR AS {c}"
        for c in ("kind", "level", *cube.CUBE_KEYS)
    ]
    names = ("kind", "level", *cube.CUBE_KEYS)
    sums = ", ".join(f"sum({m}) AS {m}" for m in cube.CUBE_MEASURES)
    return (
        f"SELECT *, {CUBE_KEY_SQL} AS ck FROM (SELECT {', '.join(names)}, {sums} FROM "
        f"(SELECT {', '.join(cols)}, {', '.join(cube.CUBE_MEASURES)} FROM {source}) GROUP BY ALL)"
    )


def state_horizon(con: duckdb.DuckDBPyConnection) -> tuple[int, int] | None:
    st = get_state(con)
    if st.get("built") != "1":
        return None
    return int(st["h0"]), int(st["h1"])
