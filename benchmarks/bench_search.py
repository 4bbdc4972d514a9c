"""Enterprise search with the name index against reading every name, side by side.

    python benchmarks/bench_search.py --registry bench-data/n10000000/registry.csv
    python benchmarks/bench_search.py --home /path/to/home [--rebuild] [--samples 20] [--redeliver 100000]

``--registry`` loads that delivery into a fresh home (the loader alone, no
statistics), so the names are the generator's statutory ones (the statistics
benchmark's synthetic warehouse names every enterprise 企业N). Then it builds
the name index (``warehouse.name_index.refresh``: seconds, rows, peak memory of
this process) and times the search API's dataset for a set of queries, each
answered both ways in the same process, alternately: through the index
(``web.datasets.enterprises.search``) and by reading every name (the same
dataset with the index unused). Prints JSON: per query p50 / p95 ms both ways,
their ratio, and the row counts (which must be equal).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


def load_registry(path: Path) -> Path:
    from crossinvest.config import Home
    from crossinvest.plugins import get_plugin_manager
    from crossinvest.warehouse.connection import connect
    from crossinvest.warehouse.load import load_file

    pm = get_plugin_manager()
    for name in ("crossinvest.analytics.plugin", "crossinvest.linkage.plugin"):
        if pm.get_plugin(name):
            pm.unregister(name=name)
    root = Path(tempfile.mkdtemp(prefix="bench-search-")) / "home"
    with connect(Home(root)) as wh:
        load_file(wh, "registry", path)
    return root


def queries(con: Any) -> dict[str, str]:
    """What people type, picked from the warehouse's own names and codes."""
    from crossinvest.warehouse.name_index import gram_codes

    name, uscc = con.execute(
        "SELECT name, uscc FROM registry WHERE uscc IS NOT NULL AND length(name) > 8 "
        "ORDER BY hash(enterprise_key) LIMIT 1"
    ).fetchall()[0]
    reg_no = con.execute(
        "SELECT reg_no FROM registry WHERE reg_no IS NOT NULL ORDER BY hash(enterprise_key) LIMIT 1"
    ).fetchall()
    # The rarest two-character fragment of that name (a 字号 mostly).
    pairs = [name[i : i + 2] for i in range(len(name) - 1)]
    counts = dict(
        con.execute(
            f"SELECT g, sum(n) FROM name_gram_counts WHERE g IN ({', '.join('?' for _ in pairs)}) GROUP BY g",
            [gram_codes(p)[0] for p in pairs],
        ).fetchall()
    )
    rare = min(pairs, key=lambda p: counts.get(gram_codes(p)[0], 0))
    out = {
        "a rare fragment": rare,
        "a fragment of four characters": name[2:6],
        "the whole name": name,
        "a frequent word (科技)": "科技",
        "every name (有限公司)": "有限公司",
        "one rare character": min(rare, key=lambda c: counts.get(gram_codes(rare)[0], 0)),
        "one frequent character (海)": "海",
        "a whole USCC": uscc,
        "a USCC's first 8 characters": uscc[:8],
        "no such name": "不存在的企业名称",
    }
    if reg_no:
        out["a registration number's first 9 digits"] = reg_no[0][0][:9]
    return out


def redeliver(wh: Any, ctx: Any, n: int, rare: str) -> dict[str, Any]:
    """Load ``n`` enterprises again under new names; time searches before and after the append."""
    from crossinvest.plugins import get_plugin_manager
    from crossinvest.warehouse import name_index
    from crossinvest.warehouse.load import load_file
    from crossinvest.web.datasets.enterprises import search

    pm = get_plugin_manager()
    for plugin in ("crossinvest.analytics.plugin", "crossinvest.linkage.plugin"):
        if pm.get_plugin(plugin):
            pm.unregister(name=plugin)
    path = Path(tempfile.mkdtemp(prefix="bench-search-")) / "redelivery.csv"
    wh.con.execute(
        f"""COPY (SELECT uscc AS 统一社会信用代码, reg_no AS 注册号, name || '分公司' AS 企业名称,
                   strftime(established_on, '%Y-%m-%d') AS 成立日期, region_code AS 住所所在行政区划,
                   industry_code AS 行业代码, status AS 登记状态
            FROM registry WHERE uscc IS NOT NULL ORDER BY hash(enterprise_key) LIMIT {int(n)})
            TO '{path}' (HEADER)"""
    )
    out: dict[str, Any] = {}
    out["load_s"], _ = time_ms(lambda: load_file(wh, "registry", path))
    out["load_s"] = round(out["load_s"] / 1000, 1)

    def sample(q: str) -> list[float]:
        return sorted(round(time_ms(lambda: search(ctx, q=q))[0], 1) for _ in range(10))

    out["not_indexed_yet"] = {"rare": sample(rare), "new word": sample("分公司")}
    out["append"] = name_index.refresh(wh.con)
    out["indexed"] = {"rare": sample(rare), "new word": sample("分公司")}
    shutil.rmtree(path.parent)
    return out


def time_ms(fn: Any) -> tuple[float, Any]:
    t = time.perf_counter()
    r = fn()
    return (time.perf_counter() - t) * 1000, r


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--registry", type=Path, help="a registry delivery to load into a fresh home")
    ap.add_argument("--home", type=Path, help="an existing home (its registry is searched)")
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--keep", action="store_true", help="keep the home made from --registry")
    ap.add_argument("--rebuild", action="store_true", help="build the index from scratch")
    ap.add_argument(
        "--redeliver",
        type=int,
        default=0,
        help="then load a registry re-delivery of this many enterprises under new names, "
        "and time searches before and after the index takes it in (changes the home)",
    )
    args = ap.parse_args()
    if (args.registry is None) == (args.home is None):
        ap.error("give --registry or --home")

    from crossinvest.access.actor import LOCAL_ANALYST
    from crossinvest.access.gate import ReadContext
    from crossinvest.config import Home
    from crossinvest.warehouse import name_index
    from crossinvest.warehouse.connection import connect
    from crossinvest.web.datasets.enterprises import search

    t0 = time.perf_counter()
    root = load_registry(args.registry) if args.registry else args.home
    loaded = time.perf_counter() - t0
    out: dict[str, Any] = {"home": str(root), "load_s": round(loaded, 1)}
    with connect(Home(root)) as wh:
        con = wh.con
        out["registry_rows"] = con.execute("SELECT count(*) FROM registry_rows").fetchall()[0][0]
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        out["build"] = name_index.refresh(con, full=args.rebuild)
        out["build"]["peak_rss_mb"] = round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        )
        out["build"]["peak_rss_before_mb"] = round(rss0 / 1024)
        out["index_rows"] = con.execute("SELECT count(*) FROM name_grams").fetchall()[0][0]
        qs = queries(con)
        ctx = ReadContext(con, LOCAL_ANALYST)
        real = name_index._built_state

        def scan(q: str) -> dict:
            name_index._built_state = lambda con: None  # type: ignore[assignment]
            try:
                return search(ctx, q=q)
            finally:
                name_index._built_state = real  # type: ignore[assignment]

        results = {}
        for label, q in qs.items():
            fast, slow = [], []
            rows_fast = rows_slow = None
            for _ in range(args.samples):
                ms, r = time_ms(lambda q=q: search(ctx, q=q))
                fast.append(ms)
                rows_fast = [x["enterprise_key"] for x in r["rows"]]
                ms, r = time_ms(lambda q=q: scan(q))
                slow.append(ms)
                rows_slow = [x["enterprise_key"] for x in r["rows"]]
            p95 = lambda xs: sorted(xs)[max(0, int(round(0.95 * len(xs))) - 1)]  # noqa: E731
            results[label] = {
                "q": q,
                "index_p50_ms": round(statistics.median(fast), 1),
                "index_p95_ms": round(p95(fast), 1),
                "scan_p50_ms": round(statistics.median(slow), 1),
                "scan_p95_ms": round(p95(slow), 1),
                "ratio_p50": round(statistics.median(slow) / max(statistics.median(fast), 0.01), 1),
                "rows": len(rows_fast or []),
                "same_rows": rows_fast == rows_slow,
            }
            print(label, results[label], flush=True)
        out["queries"] = results
        if args.redeliver:
            out["redelivery"] = redeliver(wh, ctx, args.redeliver, qs["a rare fragment"])
            print("redelivery", out["redelivery"], flush=True)
    print(json.dumps(out, ensure_ascii=False, indent=1))
    if args.registry and not args.keep:
        shutil.rmtree(root.parent)


if __name__ == "__main__":
    main()
