"""Statistics benchmark: cold recompute vs hand-written SQL, served answers, penetration, refresh.

    python benchmarks/bench_stats.py --enterprises 100000 [--home DIR] [--reuse] [--queries 300]
        [--memory-limit 8GB] [--no-rebuild] [--penetration-only]

Builds a warehouse of N Shanghai enterprises (2.5 holdings each, tax for 60% of
them for every month of 2018, statistics for 20%, 0.1·N outbound enterprises,
holding chains and cross-holdings among 8% "holding" enterprises) directly in
SQL — or reuses ``--home`` as it is with ``--reuse`` (e.g. a warehouse the real
generator and loader built) — then measures, side by side:

1. one hand-written DuckDB SQL for inbound-by-origin-province vs the same figures
   computed cold by the Ibis statistics (``stats(..., live=True)``), and the full
   rebuild of every materialised table;
2. p50/p95 of answers served from the materialised tables (random kind, period,
   one or two dimensions, penetration, persons), first call per shape and warm;
3. penetration over all holdings;
4. the refresh after deliveries of 1% the size (shareholders, registry, tax),
   each inside its own transaction, vs the full rebuild.

Targets (issue 3): served p95 < 100 ms; cold <= 1.5 x hand SQL; penetration
< 60 s at 25M holdings; refresh after 1% < 10% of a full recompute.

The hand SQL and the cold recompute run under the same ``--memory-limit`` (the
warehouse connection's 2.5 GB is too little for the hand SQL at 10M); every
other step keeps the connection's own limit. With ``--reuse``, ``--no-rebuild``
keeps the materialised tables as they are (penetration is then measured on its
own); ``--penetration-only`` measures just that, on its own, and stops. Measured
on its own, penetration runs in a transaction that is rolled back: the
warehouse is left as it was.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import time
from pathlib import Path

from crossinvest.analytics import materialize, query, refresh
from crossinvest.analytics.engine import DuckDBEngine
from crossinvest.analytics.tables import LOOKUP_INDEXES
from crossinvest.config import Home
from crossinvest.warehouse.connection import connect, fetch_one, run, transaction
from crossinvest.warehouse.lookups import drop_indexes, ensure_indexes
from crossinvest.warehouse.schema import FILL_INVESTOR_USCC

SH_DISTRICTS = [
    "310101",
    "310104",
    "310105",
    "310106",
    "310107",
    "310109",
    "310110",
    "310112",
    "310113",
    "310114",
    "310115",
    "310116",
    "310117",
    "310118",
    "310120",
    "310151",
    "310103",
    "310108",
]
OUTSIDE = [
    "110105",
    "110108",
    "120101",
    "130102",
    "140105",
    "210102",
    "220102",
    "230102",
    "320106",
    "320505",
    "320205",
    "330106",
    "330203",
    "330302",
    "340104",
    "350203",
    "360102",
    "370102",
    "370202",
    "410105",
    "420106",
    "430104",
    "440305",
    "440106",
    "450103",
    "460106",
    "500103",
    "510104",
    "520302",
    "530102",
    "540102",
    "610113",
    "620102",
    "630102",
    "640104",
    "650102",
    "653125",
    "653124",
    "632621",
    "420506",
]
INDUSTRIES = [
    "0111",
    "1310",
    "2710",
    "3311",
    "3911",
    "4411",
    "4710",
    "5111",
    "5411",
    "6311",
    "6513",
    "6620",
    "7010",
    "7212",
    "7310",
    "8321",
    "8411",
    "8710",
    "9011",
    "5212",
]

CHECK = """
CREATE OR REPLACE MACRO uscc_check(b) AS substr('0123456789ABCDEFGHJKLMNPQRTUWXY',
  ((31 - (list_sum(list_transform(range(17), lambda i: (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(b, i + 1, 1)) - 1)
     * [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28][i + 1])) % 31)) % 31)::INTEGER + 1, 1);
CREATE OR REPLACE MACRO mk_uscc(region, seq) AS
  ('91' || region || 'MA' || lpad(seq::VARCHAR, 7, '0')) || uscc_check('91' || region || 'MA' || lpad(seq::VARCHAR, 7, '0'));
CREATE OR REPLACE MACRO h(a, b) AS (hash(a, b) % 1000000)::BIGINT;
"""


def _list(values: list[str]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def build(con, n: int, seed: int = 7) -> None:
    """Fill the source tables with a synthetic warehouse of ``n`` Shanghai enterprises (batch 1)."""
    run(con, CHECK)
    sh, out = _list(SH_DISTRICTS), _list(OUTSIDE)
    ind = _list(INDUSTRIES)
    n_out_ent = max(n // 10, 10)
    n_outside_inv = max(n // 5, 10)
    n_hold = max(n * 8 // 100, 10)
    with transaction(con):
        # Shanghai enterprises 0..n-1 (0..n_hold-1 are holdings), outbound n..n+n_out_ent-1,
        # registry-listed outside investors get seq 5_000_000+.
        run(
            con,
            f"""
        CREATE OR REPLACE TEMP TABLE _ents AS
        SELECT i, mk_uscc({sh}[1 + h(i, {seed}) % {len(SH_DISTRICTS)}], i) AS key,
               {sh}[1 + h(i, {seed}) % {len(SH_DISTRICTS)}] AS region, 'in' AS side
        FROM range({n}) t(i)
        UNION ALL
        SELECT i, mk_uscc({out}[1 + h(i, {seed}) % {len(OUTSIDE)}], i), {out}[1 + h(i, {seed}) % {len(OUTSIDE)}], 'out'
        FROM range({n}, {n + n_out_ent}) t(i)
        UNION ALL
        SELECT i, mk_uscc({out}[1 + h(i, {seed}) % {len(OUTSIDE)}], i), {out}[1 + h(i, 3) % {len(OUTSIDE)}], 'inv'
        FROM range(5000000, 5000000 + {n_outside_inv // 5}) t(i)
        """,
        )
        run(
            con,
            f"""
        INSERT INTO registry_rows (batch_id, row_no, is_current, enterprise_key, uscc, name, established_on,
            registered_capital_wan, region_code, region_source, industry_code, industry_section, status, deregistered_on)
        SELECT 1, i, true, key, key, '企业' || i, DATE '2000-01-01' + (h(i, 11) % 6900)::INTEGER,
               (10 + h(i, 12) % 5000)::DOUBLE, region, 'given', ind, NULL,
               CASE WHEN h(i, 13) % 100 < 5 THEN '注销' WHEN h(i, 13) % 100 = 5 THEN '吊销' ELSE '存续' END,
               CASE WHEN h(i, 13) % 100 < 5 THEN DATE '2016-01-01' + (h(i, 14) % 1100)::INTEGER END
        FROM (SELECT *, {ind}[1 + h(i, 15) % {len(INDUSTRIES)}] AS ind FROM _ents)
        """,
        )
        run(
            con,
            "UPDATE registry_rows SET industry_section = (SELECT any_value(section) FROM ref_industries r "
            "WHERE r.division_code = left(registry_rows.industry_code, 2))",
        )
        # Holdings: k = 1..4 per Shanghai enterprise, 1..3 per outbound one.
        run(
            con,
            """
        CREATE OR REPLACE TEMP TABLE _holds AS
        SELECT e.i, e.key, e.side, j, CASE WHEN e.side = 'in' THEN 1 + h(e.i, 21) % 4 ELSE 1 + h(e.i, 21) % 3 END AS k,
               h(e.i * 10 + j, 22) % 100 AS r, h(e.i * 10 + j, 23) AS pick
        FROM _ents e, range(4) t(j)
        WHERE e.side IN ('in', 'out') AND j < CASE WHEN e.side = 'in' THEN 1 + h(e.i, 21) % 4 ELSE 1 + h(e.i, 21) % 3 END
        """,
        )
        run(
            con,
            f"""
        INSERT INTO shareholders_rows (batch_id, row_no, is_current, enterprise_uscc, investor_key, investor_name,
            investor_type, investor_id_type, investor_id, is_person, person_division, person_id_hash,
            subscribed_capital_wan, share_ratio, investor_region_code)
        SELECT 1, row_number() OVER (), true, key, inv_key, '股东' || inv_key, itype,
               CASE WHEN person THEN '居民身份证' ELSE '统一社会信用代码' END,
               CASE WHEN person THEN NULL ELSE inv_key END, person, pdiv, NULL,
               round(100.0 / k, 4), 1.0 / k, ireg
        FROM (
          SELECT *,
            CASE WHEN side = 'out' THEN r >= 70 ELSE r < 45 END AS person,
            CASE
              WHEN (side = 'in' AND r < 45) OR (side = 'out' AND r >= 70) THEN 'P:' || i || ':' || j
              WHEN side = 'out' THEN mk_uscc({sh}[1 + pick % {len(SH_DISTRICTS)}], pick % {n})
              WHEN r < 67 THEN mk_uscc({out}[1 + pick % {len(OUTSIDE)}], 5000000 + pick % {n_outside_inv})
              WHEN r < 92 THEN mk_uscc({sh}[1 + h(pick % {n_hold}, {seed}) % {len(SH_DISTRICTS)}], pick % {n_hold})
              WHEN r < 95 THEN mk_uscc('100000', 8000000 + pick % 1000)
              ELSE 'N:外资' || pick % 5000
            END AS inv_key,
            CASE WHEN r >= 95 AND side = 'in' THEN '外国(地区)企业'
                 WHEN (side = 'in' AND r < 45) OR (side = 'out' AND r >= 70) THEN '自然人股东' ELSE '企业法人' END AS itype,
            CASE WHEN (side = 'in' AND r < 45) OR (side = 'out' AND r >= 70)
                 THEN CASE WHEN pick % 10 < 6 THEN {sh}[1 + pick % 16] ELSE {out}[1 + pick % {len(OUTSIDE)}] END END AS pdiv,
            CASE WHEN side = 'in' AND r >= 45 AND r < 67 AND pick % 10 < 3 THEN {out}[1 + (pick // 7) % {len(OUTSIDE)}]
                 WHEN side = 'in' AND r >= 95 AND pick % 2 = 0 THEN '810000' END AS ireg
          FROM _holds)
        """,
        )
        run(con, FILL_INVESTOR_USCC)  # as the loader stores it
        run(
            con,
            """
        INSERT INTO tax_rows (batch_id, row_no, is_current, taxpayer_key, taxpayer_id, taxpayer_uscc, taxpayer_name,
            period, tax_type, tax_type_key, tax_paid_wan)
        SELECT 1, row_number() OVER (), true, key, key, key, 'x', DATE '2018-01-01' + INTERVAL (m) MONTH,
               '增值税', '增值税', (h(i * 13 + m, 31) % 100000) / 100.0
        FROM _ents, range(12) t(m)
        WHERE side IN ('in', 'out') AND h(i, 32) % 100 < 60
        """,
        )
        run(
            con,
            """
        INSERT INTO stats_rows (batch_id, row_no, is_current, unit_key, uscc, unit_uscc, name, year, employees,
            revenue_wan, profit_wan, total_assets_wan)
        SELECT 1, row_number() OVER (), true, key, key, key, 'x', 2018, 20 + h(i, 41) % 3000,
               (h(i, 42) % 1000000) / 10.0, NULL, NULL
        FROM _ents WHERE side IN ('in', 'out') AND h(i, 43) % 100 < 20
        """,
        )
        run(con, "DROP TABLE _holds")


HAND_SQL = """
-- What a careful analyst would write by hand for the contract's table: the groups
-- by origin province and the total row over distinct enterprises.
WITH reg AS (SELECT enterprise_key, uscc, region_code FROM registry),
codes AS (SELECT code, province_code, domestic FROM an_region_lookup),
inv AS (
  SELECT s.enterprise_uscc, s.subscribed_capital_wan,
         CASE WHEN s.investor_type LIKE '%外国%' THEN NULL
              WHEN s.investor_region_code IN (SELECT code FROM codes) THEN s.investor_region_code
              WHEN r.region_code IN (SELECT code FROM codes) THEN r.region_code
              WHEN regexp_full_match(s.investor_id, '[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}')
                   AND substr(s.investor_id, 3, 6) IN (SELECT code FROM codes) THEN substr(s.investor_id, 3, 6)
         END AS origin
  FROM shareholders s LEFT JOIN reg r ON r.uscc = s.investor_id
  WHERE NOT s.is_person
),
q AS (
  SELECT i.enterprise_uscc AS ek, c.province_code AS op, sum(i.subscribed_capital_wan) AS inv
  FROM inv i JOIN codes c ON c.code = i.origin
  WHERE c.domestic AND c.province_code <> '310000'
  GROUP BY ALL
),
e AS (
  SELECT r.enterprise_key, r.established_on FROM registry r JOIN codes c ON c.code = r.region_code
  WHERE c.province_code = '310000' AND r.established_on <= DATE '2018-12-31'
    AND NOT (coalesce(r.status IN ('注销', '吊销'), false) AND coalesce(r.deregistered_on <= DATE '2018-12-31', true))
),
t AS (SELECT enterprise_key, sum(tax_paid_wan) tax FROM tax_linked
      WHERE period BETWEEN DATE '2018-01-01' AND DATE '2018-12-01' GROUP BY 1),
s AS (SELECT enterprise_key, sum(revenue_wan) rev, sum(employees) emp FROM stats_linked WHERE year = 2018 GROUP BY 1),
x AS (
  SELECT q.op, q.ek, q.inv, e.established_on >= DATE '2018-01-01' AS is_new, t.tax, s.rev, s.emp
  FROM q JOIN e ON e.enterprise_key = q.ek LEFT JOIN t ON t.enterprise_key = q.ek LEFT JOIN s ON s.enterprise_key = q.ek
)
SELECT op, count(*) AS enterprises, count(*) FILTER (is_new) AS new_enterprises,
       sum(inv), sum(tax), sum(rev), sum(emp)
FROM x GROUP BY op
UNION ALL
SELECT NULL, count(*), count(*) FILTER (is_new), sum(inv), sum(tax), sum(rev), sum(emp)
FROM (SELECT ek, sum(inv) AS inv, any_value(is_new) AS is_new, any_value(tax) AS tax, any_value(rev) AS rev,
             any_value(emp) AS emp FROM x GROUP BY ek)
ORDER BY 1 NULLS LAST
"""


# crossinvest.warehouse.connection.connect's memory_limit (what every step but the
# hand-vs-cold comparison runs under).
WAREHOUSE_MEMORY = "2500MB"


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def penetration_alone(con) -> dict[str, float]:
    """Penetrated groups of every enterprise, recomputed from the materialised tables.

    Runs ``materialize.build_pen`` as the full rebuild does, inside a transaction
    that is rolled back (the warehouse is left as it was); returns its timings.
    """
    timings: dict[str, float] = {}
    run(con, "BEGIN TRANSACTION")
    try:
        drop_indexes(con, LOOKUP_INDEXES)  # as rebuild_all does
        run(con, "DELETE FROM an_groups WHERE penetrate")
        run(con, "DELETE FROM an_pen_start")
        eng = DuckDBEngine(con)
        materialize.build_pen(eng, None, timings)
        eng.drop_all()
    finally:
        run(con, "ROLLBACK")
    return timings


def timed(fn, *args, **kw):
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return time.perf_counter() - t0, out


def deliver_1pct(con, n: int, source: str, batch: int) -> float:
    """Simulate a delivery of 1% the size; run the refresh in its transaction; return its seconds."""
    from crossinvest.analytics import plugin
    from crossinvest.warehouse.batches import Batch

    k = max(n // 100, 1)
    sh = _list(SH_DISTRICTS)
    with transaction(con):
        if source == "shareholders":
            run(
                con,
                f"""CREATE OR REPLACE TEMP TABLE _pick AS SELECT enterprise_key FROM registry
                         WHERE region_code LIKE '31%' USING SAMPLE {k} ROWS (reservoir, {batch})""",
            )
            run(
                con,
                """CREATE OR REPLACE TEMP TABLE _new AS SELECT * FROM shareholders_rows
                        WHERE is_current AND enterprise_uscc IN (SELECT enterprise_key FROM _pick)""",
            )
            run(
                con,
                "UPDATE shareholders_rows SET is_current = false WHERE is_current AND enterprise_uscc IN "
                "(SELECT enterprise_key FROM _pick)",
            )
            run(
                con,
                f"UPDATE _new SET batch_id = {batch}, subscribed_capital_wan = subscribed_capital_wan * 1.1",
            )
            run(con, "INSERT INTO shareholders_rows SELECT * FROM _new")
        elif source in ("registry", "registry_mixed"):
            run(
                con,
                f"""CREATE OR REPLACE TEMP TABLE _new AS SELECT * FROM registry_rows
                         WHERE is_current AND region_code LIKE '31%' USING SAMPLE {k} ROWS (reservoir, {batch})""",
            )
            if source == "registry_mixed":
                # Half the delivery is enterprises new to the registry (new keys and
                # USCCs; their tax, if any, must be read), half moves existing ones.
                run(
                    con,
                    f"""UPDATE _new SET enterprise_key = 'N{batch}' || substr(enterprise_key, 6),
                               uscc = 'N{batch}' || substr(enterprise_key, 6)
                        WHERE hash(enterprise_key) % 2 = 0""",
                )
            run(
                con,
                "UPDATE registry_rows SET is_current = false WHERE is_current AND enterprise_key IN "
                "(SELECT enterprise_key FROM _new)",
            )
            run(
                con,
                f"UPDATE _new SET batch_id = {batch}, region_code = {sh}[(1 + hash(enterprise_key) % 16)::INTEGER]",
            )
            run(con, "INSERT INTO registry_rows SELECT * FROM _new")
        else:
            run(
                con,
                f"""CREATE OR REPLACE TEMP TABLE _new AS SELECT * FROM tax_rows
                         WHERE is_current AND period = DATE '2018-12-01' USING SAMPLE {k} ROWS (reservoir, {batch})""",
            )
            run(
                con,
                "UPDATE tax_rows SET is_current = false WHERE is_current AND period = DATE '2018-12-01' "
                "AND taxpayer_key IN (SELECT taxpayer_key FROM _new)",
            )
            run(con, f"UPDATE _new SET batch_id = {batch}, tax_paid_wan = tax_paid_wan + 1")
            run(con, "INSERT INTO tax_rows SELECT * FROM _new")
        t0 = time.perf_counter()
        kind = "registry" if source == "registry_mixed" else source
        plugin.after_load(con=con, batch=Batch(batch, kind, "bench", "0" * 64))
        return time.perf_counter() - t0


def refresh_deliveries(
    con, n: int, sources: list[str], t_full: float, t_cold: float | None
) -> None:
    """Refresh after deliveries of 1% the size, each source twice.

    The first of each kind compiles its SQL (kept in the warehouse for every
    later load); the second is the steady state.
    """
    for i, source in enumerate(sources):
        for rep in (0, 1):
            dt = deliver_1pct(con, n, source, 1000 + 10 * i + rep + int(time.time()) % 1000 * 100)
            cold = f", {dt / t_cold * 100:.0f}% of one cold statistic" if t_cold else ""
            print(
                f"refresh after a 1% {source} delivery ({'first, compiling' if rep == 0 else 'steady'}): "
                f"{dt:.2f} s = {dt / t_full * 100:.1f}% of the full rebuild{cold} (target < 10%) ({load()})",
                flush=True,
            )
    print(
        f"(a delivery touching more than {refresh.FULL_FRACTION:.0%} of the enterprises is a full rebuild)"
    )


def served_latencies(con, queries: int, seed: int = 3) -> tuple[list[float], list[float]]:
    rnd = random.Random(seed)
    dims_in = [
        "origin_province",
        "origin_prefecture",
        "district",
        "industry_section",
        "industry_division",
    ]
    dims_out = [
        "dest_province",
        "dest_prefecture",
        "district",
        "support_region",
        "industry_section",
    ]
    periods = ["2018", "2018Q1", "2018Q2", "2018Q3", "2018Q4", "2018-03", "2018-07", "2018-12"]
    shapes = []
    for _ in range(queries):
        kind = rnd.choice(["inbound", "outbound"])
        pool = dims_in if kind == "inbound" else dims_out
        by = rnd.sample(pool, rnd.choice([1, 1, 2]))
        shapes.append((kind, rnd.choice(periods), by, rnd.random() < 0.3, rnd.random() < 0.2))
    first, warm = [], []
    for kind, period, by, pen, persons in shapes:
        dt, _ = timed(query.stats, con, kind, period, by, penetrate=pen, include_persons=persons)
        first.append(dt)
    for kind, period, by, pen, persons in shapes:
        dt, r = timed(query.stats, con, kind, period, by, penetrate=pen, include_persons=persons)
        assert r.served_from == "cube"
        warm.append(dt)
    return first, warm


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--enterprises", type=int, default=100_000)
    ap.add_argument("--home", type=Path, default=Path("bench-data/stats"))
    ap.add_argument("--reuse", action="store_true", help="use the warehouse under --home as it is")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument(
        "--memory-limit",
        default="8GB",
        help="DuckDB memory limit for the hand SQL and the cold recompute alike",
    )
    ap.add_argument(
        "--no-rebuild",
        action="store_true",
        help="with --reuse: keep the materialised tables (penetration measured on its own)",
    )
    ap.add_argument(
        "--penetration-only",
        action="store_true",
        help="with --reuse: measure penetration over the materialised tables, then stop",
    )
    ap.add_argument(
        "--refresh-only",
        action="store_true",
        help="with --reuse: a full rebuild, then the refresh after 1%% deliveries",
    )
    ap.add_argument(
        "--full-seconds",
        type=float,
        default=None,
        help="with --refresh-only: the full rebuild's seconds measured before (default: rebuild first)",
    )
    ap.add_argument(
        "--sources",
        default="shareholders,registry,tax",
        help="which 1%% deliveries to refresh after, comma-separated: shareholders, registry "
        "(existing enterprises moved), registry_mixed (half of them new), tax",
    )
    ap.add_argument(
        "--trace-sql", action="store_true", help="print each statement's seconds (stderr)"
    )
    a = ap.parse_args(argv)
    if a.trace_sql:
        logging.basicConfig(stream=sys.stderr, format="%(message)s")
        logging.getLogger("crossinvest.sql").setLevel(logging.DEBUG)
        logging.getLogger("crossinvest.analytics.refresh").setLevel(logging.DEBUG)
    if a.refresh_only and not a.reuse:
        ap.error("--refresh-only needs --reuse")
    if (a.no_rebuild or a.penetration_only) and not a.reuse:
        ap.error("--no-rebuild and --penetration-only need --reuse (a built warehouse)")
    home = Home(a.home.resolve())
    if not a.reuse and home.warehouse.exists():
        home.warehouse.unlink()
    wh = connect(home)
    con = wh.con
    if not a.reuse:
        dt, _ = timed(build, con, a.enterprises)
        print(f"built synthetic warehouse in {dt:.1f} s")
    n_ent = fetch_one(con, "SELECT count(*) FROM registry")[0]
    n_hold = fetch_one(con, "SELECT count(*) FROM shareholders")[0]
    n_tax = fetch_one(con, "SELECT count(*) FROM tax")[0]
    print(f"registry {n_ent:,} enterprises, {n_hold:,} holdings, {n_tax:,} tax rows; {load()}")

    if a.refresh_only:
        t_full = a.full_seconds
        if t_full is None:  # side by side: the full rebuild first, in this process
            with transaction(con):
                t_full, timings = timed(materialize.rebuild_all, con)
            print(f"full rebuild of the materialised tables: {t_full:.2f} s ({load()})", flush=True)
            dt, _ = timed(ensure_indexes, con)
            print(f"lookup indexes rebuilt after the commit: {dt:.2f} s ({load()})", flush=True)
        refresh_deliveries(con, a.enterprises, a.sources.split(","), t_full, None)
        wh.close()
        return 0
    if a.penetration_only:
        timings = penetration_alone(con)
        print(
            f"penetration alone (materialize.build_pen, rolled back): "
            f"{timings['penetration']:.2f} s ({load()})"
        )
        wh.close()
        return 0
    if a.no_rebuild:
        t_full = None
        timings = penetration_alone(con)
        print(f"materialised tables kept (--no-rebuild); {load()}")
    else:
        with transaction(con):
            t_full, timings = timed(materialize.rebuild_all, con)
        print(
            f"full rebuild of the materialised tables: {t_full:.2f} s  "
            + "  ".join(f"{k} {v:.2f}" for k, v in timings.items() if k != "total")
            + f" ({load()})"
        )
        dt, made = timed(ensure_indexes, con)
        print(f"lookup indexes rebuilt after the commit ({', '.join(made)}): {dt:.2f} s ({load()})")

    # 1. Cold: hand SQL vs Ibis statistics from the raw tables, side by side (twice
    # each), under the same memory limit.
    run(con, f"SET memory_limit = '{a.memory_limit}'")
    hand, cold = [], []
    try:
        for _ in range(2):
            dt, hand_rows = timed(lambda: con.execute(HAND_SQL).fetchall())
            hand.append(dt)
            dt, r = timed(query.stats, con, "inbound", "2018", ["origin_province"], live=True)
            cold.append(dt)
    finally:
        run(con, f"SET memory_limit = '{WAREHOUSE_MEMORY}'")
    ours = {x["origin_province"]: x for x in r.rows}
    mism = [
        row[0] for row in hand_rows if row[0] and ours.get(row[0], {}).get("enterprises") != row[1]
    ]
    if hand_rows[-1][1] != r.total["enterprises"]:
        mism.append("total")
    print(
        f"hand-written SQL inbound by origin_province: {min(hand):.2f} s; Ibis cold recompute: {min(cold):.2f} s; "
        f"ratio {min(cold) / min(hand):.2f} (target <= 1.5); groups differing in count: {len(mism)} "
        f"(memory limit {a.memory_limit} for both)"
    )

    # 2. Served answers.
    first, warm = served_latencies(con, a.queries)
    print(
        f"served from cube, {a.queries} random answers: first call p50 {pct(first, 50) * 1000:.0f} ms "
        f"p95 {pct(first, 95) * 1000:.0f} ms; warm p50 {pct(warm, 50) * 1000:.0f} ms "
        f"p95 {pct(warm, 95) * 1000:.0f} ms (target p95 < 100 ms)"
    )

    # 3. Penetration (both kinds, every holding) as measured inside the rebuild, and live.
    dt, r = timed(
        query.stats, con, "inbound", "2018", ["origin_province"], penetrate=True, live=True
    )
    where = "on its own" if a.no_rebuild else "inside the rebuild"
    print(
        f"penetration {where}: {timings['penetration']:.2f} s; "
        f"live penetrated inbound by province: {dt:.2f} s (target < 60 s at 25M holdings)"
    )
    if t_full is None:
        t_full = timings["penetration"]  # refresh ratios below are then against penetration only
        print("(--no-rebuild: the refresh percentages below compare with penetration alone)")

    # 4. Refresh after deliveries of 1% the size.
    refresh_deliveries(con, a.enterprises, a.sources.split(","), t_full, min(cold))
    wh.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
