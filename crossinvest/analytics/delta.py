"""The cube moved by the difference a refresh made: new contributions minus old.

A refresh copies the touched enterprises' rows before and after the change;
``keep_changed`` cuts both copies to the enterprises that differ, and
``merge_delta`` adds (new − old) to ``an_cube`` and its roll-ups.
"""

from __future__ import annotations

import logging

import duckdb

from crossinvest.analytics import materialize
from crossinvest.analytics.cube import CUBE_KEYS, CUBE_MEASURES, MONTH_COLS
from crossinvest.analytics.materialize import CUBE_KEY_SQL
from crossinvest.warehouse.connection import fetch_one, run

log = logging.getLogger("crossinvest.analytics.refresh")


def keep_changed(
    con: duckdb.DuckDBPyConnection, old: tuple[str, ...], new: tuple[str, ...], n_touched: int
) -> None:
    """Cut the before/after copies to the enterprises whose rows differ.

    An enterprise whose groups, attributes and yearly rows came out exactly as
    before contributes the same to the cube before and after: summing it twice
    only to subtract it is wasted work. Many touched enterprises are like that
    (below a holding whose shares did not move). Each enterprise's rows are
    compared by a sum of row hashes with their count (an ``EXCEPT ALL`` of the
    copies took 6 s at 10M); a difference in the last bit of a float counts as a
    change, which costs time, never correctness.
    """

    def digest(t: str) -> str:
        return f"SELECT enterprise_key, count(*) AS n, sum(hash(x)) AS h FROM {t} x GROUP BY enterprise_key"

    diffs = " UNION ".join(
        f"""SELECT coalesce(a.enterprise_key, b.enterprise_key) AS enterprise_key
            FROM ({digest(o)}) a FULL JOIN ({digest(n)}) b ON a.enterprise_key = b.enterprise_key
            WHERE a.n IS DISTINCT FROM b.n OR a.h IS DISTINCT FROM b.h"""
        for o, n in zip(old, new, strict=True)
    )
    run(con, f"CREATE OR REPLACE TEMP TABLE _an_changed AS {diffs}")
    if log.isEnabledFor(logging.DEBUG):
        n = (fetch_one(con, "SELECT count(*) FROM _an_changed") or (0,))[0]
        log.debug("refresh: %d enterprises touched, %d changed", n_touched, n)
    for t in (*old, *new):
        run(
            con,
            f"DELETE FROM {t} WHERE enterprise_key NOT IN (SELECT enterprise_key FROM _an_changed)",
        )
    run(con, "DROP TABLE _an_changed")


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
