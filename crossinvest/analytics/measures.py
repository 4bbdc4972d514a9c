"""``an_yearly``: each enterprise's tax by month, revenue and employees per year.

Built in full by ``materialize.rebuild_all`` or for the enterprises a refresh
touched; ``compute_horizon`` derives the months the cube covers from it. Like
everything in ``materialize``, it runs inside the caller's transaction.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import duckdb

from crossinvest.analytics import cube
from crossinvest.analytics.engine import DuckDBEngine
from crossinvest.analytics.subsets import insert_captured, restrict_linked
from crossinvest.warehouse.connection import fetch_one, run

if TYPE_CHECKING:
    from crossinvest.analytics.materialize import Inputs

# The full build of an_yearly runs in parts of at most this many enterprises.
MEASURE_PART_KEYS = 3_000_000


def build_measures(
    eng: DuckDBEngine,
    inp: Inputs,
    keys: str | None,
    timings: dict[str, float] | None = None,
    groups: str = "an_groups",
    capture: str | None = None,
    split: bool = True,
) -> None:
    """an_yearly for the enterprises in ``groups`` (restricted to table ``keys``).

    ``groups``: where to read which enterprises count (a refresh passes its copy
    of the touched enterprises' rows); ``capture``: a temp table that receives a
    copy of the rows written; ``split``: a large full build may run in parts.
    """
    t0 = time.perf_counter()

    if keys is None:
        k = eng.materialize(
            lambda: eng.table(groups).select("enterprise_key").distinct(),
            "_an_measure_keys",
            key=f"mkeys:{groups}",
        )
        n_keys = eng.count(k) if split else 0
        if n_keys > MEASURE_PART_KEYS:
            # In parts of the enterprises: the whole aggregate (6.5M enterprises x
            # 80M tax rows at 10M) failed to pin a block under the 2.5 GB limit.
            # Each part reads every tax row again (about 6 s at 10M). The parts are
            # ranges of the key, each stored sorted, so the table ends up in key
            # order: an enterprise list's page (keys that follow each other) then
            # reads one or two row groups, not all of them (80 ms at 10M).
            parts = -(-n_keys // MEASURE_PART_KEYS)
            run(eng.con, "CREATE OR REPLACE TEMP TABLE _an_measure_all AS FROM _an_measure_keys")
            eng.drop(k)
            qs = ", ".join(str(i / parts) for i in range(1, parts))
            bounds = fetch_one(
                eng.con, f"SELECT quantile_disc(enterprise_key, [{qs}]) FROM _an_measure_all"
            )
            cuts = [None, *(bounds[0] if bounds else []), None]
            for i in range(parts):
                lo, hi = cuts[i], cuts[i + 1]
                run(
                    eng.con,
                    """CREATE OR REPLACE TEMP TABLE _an_measure_part AS SELECT enterprise_key
                        FROM _an_measure_all
                        WHERE ($lo IS NULL OR enterprise_key > $lo)
                          AND ($hi IS NULL OR enterprise_key <= $hi)""",
                    {"lo": lo, "hi": hi},
                )
                build_measures(
                    eng, inp, None, groups="_an_measure_part", capture=capture, split=False
                )
            run(eng.con, "DROP TABLE _an_measure_part")
            run(eng.con, "DROP TABLE _an_measure_all")
            if timings is not None:
                timings["measures"] = time.perf_counter() - t0
            return
        tl, sl = inp.tax_linked, inp.stats_linked
    else:
        # Filter before DISTINCT (DuckDB would otherwise deduplicate the whole table).
        run(
            eng.con,
            f"""CREATE OR REPLACE TEMP TABLE _an_measure_keys AS SELECT DISTINCT enterprise_key FROM "{groups}"
                WHERE enterprise_key IN (SELECT enterprise_key FROM "{keys}")""",
        )
        k = eng.table("_an_measure_keys")
        tl = eng.table(restrict_linked(eng.con, "tax", "_an_measure_keys"))
        sl = eng.table(restrict_linked(eng.con, "stats", "_an_measure_keys"))
    insert_captured(
        eng,
        lambda: cube.enterprise_yearly(tl, sl, k),
        "an_yearly",
        f"yearly:{tl.get_name()}:{sl.get_name()}",
        capture,
        order_by="enterprise_key",
    )
    eng.drop(k)
    if timings is not None:
        timings["measures"] = time.perf_counter() - t0


def compute_horizon(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """Months the cube covers: every month of the years the tax and statistics data cover.

    Without any, the years up to the latest establishment. Periods outside are
    answered live (slower, same figures).
    """
    row = fetch_one(
        con,
        "SELECT min(year), max(year) FROM an_yearly",
    )
    if row and row[0] is not None:
        y0, y1 = int(row[0]), int(row[1])
    else:
        row = fetch_one(con, "SELECT max(est_ym) // 100 FROM an_enterprises WHERE est_ym < 999999")
        y1 = int(row[0]) if row and row[0] is not None else time.localtime().tm_year
        y0 = y1 - 1
    return y0 * 100 + 1, y1 * 100 + 12
