"""Time the hot ``ci_*`` macros over generated rows, against a bare pass-through.

    python benchmarks/bench_macros.py                 # 10M rows, 2 threads
    python benchmarks/bench_macros.py --rows 1000000  # quicker
    python benchmarks/bench_macros.py --csv           # also a load-shaped read_csv run

Each macro is evaluated the way the loader must use it: in a plain SELECT list
(``CREATE TEMP TABLE o AS SELECT ci_x(col) FROM g``), where DuckDB's common
subexpression elimination applies. Wall and CPU seconds are the best of
``--repeat`` runs; the machine may be shared, so compare ratios, not seconds.
The inputs are generated in SQL without the macros (valid USCCs get their
check character from the plain GB 32100 formula).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb

from crossinvest.validation.macros import USCC_CHARSET, USCC_WEIGHTS, install_macros

CS = USCC_CHARSET


def _generate(con: duckdb.DuckDBPyConnection, rows: int) -> None:
    body = " || ".join(f"substr('{CS}', (hash(i, {k}) % 31)::INTEGER + 1, 1)" for k in range(17))
    total = " + ".join(
        f"(strpos('{CS}', b[{k + 1}]) - 1) * {w}" for k, w in enumerate(USCC_WEIGHTS)
    )
    check = f"substr('{CS}', ((31 - ({total}) % 31) % 31)::INTEGER + 1, 1)"
    con.execute(f"CREATE TEMP TABLE b AS SELECT i, {body} AS b FROM range({rows}) r(i)")
    con.execute(
        f"""
        CREATE TEMP TABLE g AS SELECT
          -- 90% valid USCCs, 10% with a wrong check character
          CASE WHEN i % 10 = 0 THEN b || CASE WHEN {check} = 'Y' THEN '0' ELSE 'Y' END ELSE b || {check} END AS uscc,
          -- dates: mostly ISO, some compact / slashed / Chinese / Excel serial / impossible
          CASE WHEN i % 20 < 16 THEN strftime(DATE '1990-01-01' + (hash(i, 'd') % 12000)::INTEGER, '%Y-%m-%d')
               WHEN i % 20 = 16 THEN strftime(DATE '1990-01-01' + (hash(i, 'd') % 12000)::INTEGER, '%Y%m%d')
               WHEN i % 20 = 17 THEN strftime(DATE '1990-01-01' + (hash(i, 'd') % 12000)::INTEGER, '%Y/%-m/%-d')
               WHEN i % 20 = 18 THEN strftime(DATE '1990-01-01' + (hash(i, 'd') % 12000)::INTEGER, '%Y年%-m月%-d日')
               ELSE CASE WHEN i % 40 = 19 THEN (30000 + hash(i, 'd') % 15000)::VARCHAR ELSE '2018-02-30' END END AS d,
          -- money: plain numbers, 万元 suffixes, thousands separators, other units
          CASE WHEN i % 4 = 0 THEN ((hash(i, 'm') % 100000) / 10)::VARCHAR
               WHEN i % 4 = 1 THEN ((hash(i, 'm') % 100000) / 10)::VARCHAR || '万元'
               WHEN i % 4 = 2 THEN format('{{:,}}', (hash(i, 'm') % 10000000)::BIGINT) || '元'
               ELSE ((hash(i, 'm') % 1000))::VARCHAR || (['万美元', '万元人民币', '%', 'USD'])[(i // 4 % 4)::INTEGER + 1] END AS m,
          -- names: Chinese text, 5% with full-width brackets
          '上海' || (hash(i, 'n') % 100000)::VARCHAR || '科技有限公司'
            || CASE WHEN i % 20 = 0 THEN '（分公司）' ELSE '' END AS name
        FROM b
        """
    )
    con.execute("DROP TABLE b")


def _time(con: duckdb.DuckDBPyConnection, sql: str, repeat: int) -> tuple[float, float]:
    best_wall = best_cpu = float("inf")
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        con.execute(sql)
        best_wall = min(best_wall, time.perf_counter() - w)
        best_cpu = min(best_cpu, time.process_time() - c)
    return best_wall, best_cpu


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument(
        "--csv", action="store_true", help="also time read_csv with and without the macros"
    )
    args = ap.parse_args()

    con = duckdb.connect(config={"threads": args.threads})
    con.execute("SET enable_progress_bar = false")
    install_macros(con)
    t = time.perf_counter()
    _generate(con, args.rows)
    print(f"generated {args.rows:,} rows in {time.perf_counter() - t:.1f}s; threads={args.threads}")
    per = 10_000_000 / args.rows

    cases = [
        ("ci_uscc_valid", "uscc"),
        ("ci_parse_date", "d"),
        ("ci_money_parts", "m"),
        ("ci_clean", "name"),
        ("ci_clean", "uscc"),
    ]
    print(f"{'expression':34} {'wall s':>8} {'cpu s':>8}  (per 10M rows)  {'x pass-through':>14}")
    base = {}
    for col in sorted({c for _, c in cases}):
        wall, cpu = _time(
            con,
            f"CREATE OR REPLACE TEMP TABLE o AS SELECT count(length({col})) FROM g",
            args.repeat,
        )
        wall2, cpu2 = _time(
            con, f"CREATE OR REPLACE TEMP TABLE o AS SELECT {col} AS v FROM g", args.repeat
        )
        base[col] = wall2
        print(f"{'count(length(' + col + '))':34} {wall * per:8.2f} {cpu * per:8.2f}")
        print(f"{'pass-through ' + col:34} {wall2 * per:8.2f} {cpu2 * per:8.2f}")
    for macro, col in cases:
        wall, cpu = _time(
            con, f"CREATE OR REPLACE TEMP TABLE o AS SELECT {macro}({col}) AS v FROM g", args.repeat
        )
        print(
            f"{macro + '(' + col + ')':34} {wall * per:8.2f} {cpu * per:8.2f}  {wall / base[col]:>28.1f}"
        )

    if args.csv:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "g.csv"
            con.execute(f"COPY g TO '{path}' (HEADER)")
            src = f"read_csv('{path}', all_varchar = true, header = true)"
            bare, _ = _time(
                con, f"CREATE OR REPLACE TEMP TABLE o AS SELECT * FROM {src}", args.repeat
            )
            full, _ = _time(
                con,
                f"""CREATE OR REPLACE TEMP TABLE o AS
                WITH c AS (SELECT ci_clean(uscc) AS uscc, ci_clean(d) AS d, ci_clean(m) AS m,
                                  ci_clean(name) AS name FROM {src})
                SELECT uscc, ci_uscc_valid(uscc) AS uscc_ok, ci_parse_date(d) AS d,
                       ci_money_parts(m) AS m, name FROM c""",
                args.repeat,
            )
            print(
                f"read_csv bare {bare * per:.2f}s, with clean+checks {full * per:.2f}s per 10M rows:"
                f" speed {bare / full:.2f}x of bare (target >= 0.5x)"
            )


if __name__ == "__main__":
    main()
