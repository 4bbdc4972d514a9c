"""crossinvest generate: ownership structure, registry realism and the truth files.

Read back and checked independently of the generator (see test_generate.py).
"""

from __future__ import annotations

import re
from collections import defaultdict

import pyarrow.parquet as pq
import pytest
from stdnum.cn import uscc

from crossinvest.generate.regions import INVESTOR_PROVINCES
from tests.test_generate import SIZE, World, _fold, parse_ratio, world


@pytest.fixture(scope="module")
def noisy() -> World:
    return world(True)


@pytest.fixture(scope="module")
def clean() -> World:
    return world(False, "csv")


# ---- ownership --------------------------------------------------------------------------------


def _graph(w: World) -> tuple[dict[str, set[str]], dict[str, dict]]:
    ents = {e["uscc"]: e for e in w.enterprises() if e["uscc"]}
    owners: dict[str, set[str]] = defaultdict(set)
    for e, i in zip(
        w.column("shareholders.csv", "enterprise_uscc"),
        w.column("shareholders.csv", "investor_id"),
        strict=True,
    ):
        if e in ents and i in ents:
            owners[e].add(i)
    return owners, ents


def test_cross_holding_cycles_exist_among_shanghai_enterprises(noisy: World) -> None:
    owners, ents = _graph(noisy)
    cycles = noisy.manifest["cycles"]
    assert cycles
    for cycle in cycles:
        assert all(ents[u]["region_code"].startswith("31") for u in cycle)
        # each member owns the next one round the cycle: follow owner edges backwards
        for a, b in zip(cycle, cycle[1:] + cycle[:1], strict=True):
            assert a in owners[b], (a, b)


def test_ownership_chains_reach_groups_elsewhere(noisy: World) -> None:
    owners, ents = _graph(noisy)
    sh_ids = noisy.column("shareholders.csv", "enterprise_uscc")
    inv_ids = noisy.column("shareholders.csv", "investor_id")
    outside = defaultdict(set)
    for e, i in zip(sh_ids, inv_ids, strict=True):
        if uscc.is_valid(i) and i[2:4] != "31" and i not in ents:
            outside[e].add(i)

    def depth(u: str, seen: frozenset) -> int:
        best = 1 if outside[u] else 0
        for o in owners[u]:
            if o not in seen and ents[o]["region_code"].startswith("31"):
                d = depth(o, seen | {o})
                if d:
                    best = max(best, d + 1)
        return best

    deepest = max(depth(u, frozenset([u])) for u in list(owners)[:400])
    assert deepest >= 3


def test_legal_person_investors_come_from_every_province(noisy: World) -> None:
    owners, ents = _graph(noisy)
    provinces = {
        i[2:4]
        for i, t in zip(
            noisy.column("shareholders.csv", "investor_id"),
            noisy.column("shareholders.csv", "investor_id_type"),
            strict=True,
        )
        if t in ("统一社会信用代码", "营业执照") and i not in ents
    }
    assert {f"{p}" for p in INVESTOR_PROVINCES} <= provinces
    assert "31" not in provinces  # Shanghai legal persons are all in the registry


def test_outbound_enterprises_have_shanghai_investors(noisy: World) -> None:
    owners, ents = _graph(noisy)
    outbound = [u for u, e in ents.items() if not e["region_code"].startswith("31")]
    assert len(outbound) > SIZE * 0.05
    with_sh = [
        u for u in outbound if any(ents[o]["region_code"].startswith("31") for o in owners[u])
    ]
    assert len(with_sh) >= 0.9 * len(outbound)
    support = {
        "653125",
        "653124",
        "653126",
        "653130",
        "540222",
        "540223",
        "540224",
        "540225",
        "540233",
        "420506",
        "500101",
    } | {f"63262{k}" for k in range(1, 7)}
    codes = {ents[u]["region_code"] for u in outbound}
    assert codes & support or any(c.startswith("5203") for c in codes)


def test_shares_sum_to_one_and_capital_is_consistent(clean: World) -> None:
    reg = clean.files("registry")[0]
    capital = {}
    for code, cap, cur in zip(
        clean.column(reg, "uscc"),
        clean.column(reg, "registered_capital"),
        clean.column(reg, "currency"),
        strict=True,
    ):
        if cap.endswith("万美元") or cur == "美元":
            capital[code] = (float(cap.replace("万美元", "")), "USD")
        elif cap.endswith("万元"):
            capital[code] = (float(cap[:-2]), "CNY")
        elif cap.endswith("元"):
            capital[code] = (float(cap[:-1]) / 1e4, "CNY")
        else:
            capital[code] = (float(cap), "CNY")
    sums: dict[str, float] = defaultdict(float)
    forms = set()
    for e, ratio, sub in zip(
        clean.column("shareholders.csv", "enterprise_uscc"),
        clean.column("shareholders.csv", "share_ratio"),
        clean.column("shareholders.csv", "subscribed_capital"),
        strict=True,
    ):
        forms.add("pct" if ratio.endswith("%") else ("frac" if float(ratio) <= 1 else "plain"))
        r = parse_ratio(ratio)
        sums[e] += r
        cap, cur = capital[e]
        value = float(sub.replace("万美元", ""))
        assert sub.endswith("万美元") == (cur == "USD")
        assert abs(value - r * cap) <= max(0.0002, 1e-6 * cap), (e, ratio, sub, cap)
    assert forms == {"pct", "frac", "plain"}
    assert all(abs(s - 1) < 1e-6 for s in sums.values())


# ---- registry realism ---------------------------------------------------------------------------


def test_registry_columns_vary_like_real_extracts(clean: World) -> None:
    r = "registry.csv"
    caps = clean.column(r, "registered_capital")
    assert any(c.endswith("万元") for c in caps) and any(c.endswith("万美元") for c in caps)
    assert any(re.fullmatch(r"\d+元", c) for c in caps)
    codes = clean.column(r, "industry_code")
    assert any(re.fullmatch(r"[A-T]\d{4}", c) for c in codes) and any(
        re.fullmatch(r"\d{4}", c) for c in codes
    )
    regions, addresses = clean.column(r, "region_code"), clean.column(r, "address")
    assert "310103" in regions and "310108" in regions
    assert any(
        a.startswith("上海市卢湾区")
        for a, g in zip(addresses, regions, strict=True)
        if g == "310103"
    )
    missing = [a for a, g in zip(addresses, regions, strict=True) if not g]
    assert missing and all(re.search(r"(区|县|市|旗)", a) for a in missing)
    dates = clean.column(r, "established_on")
    assert {"-", "/", "年", "."} <= {c for d in dates for c in d if not c.isdigit()}
    years = [int(re.match(r"\d{4}", d).group()) for d in dates]
    assert min(years) >= 1995 and max(years) <= 2018
    status, dereg = clean.column(r, "status"), clean.column(r, "deregistered_on")
    gone = [(s, d) for s, d in zip(status, dereg, strict=True) if s in ("注销", "吊销")]
    assert any(d == "" for _, d in gone) and any(d for _, d in gone)
    dereg_years = {int(re.match(r"\d{4}", d).group()) for _, d in gone if d}
    assert min(dereg_years) < 2018 < max(dereg_years)  # before and after the reference date
    assert set(status) >= {"存续", "在业", "注销", "吊销"}


def test_truth_covers_every_tax_and_stats_row_without_valid_uscc(noisy: World) -> None:
    known = {e["uscc"]: e for e in noisy.enterprises()}
    for source, id_field, name_field, truth in (
        ("tax", "taxpayer_id", "taxpayer_name", "tax_links"),
        ("stats", "uscc", "name", "stats_links"),
    ):
        links = pq.read_table(noisy.root / "truth" / f"{truth}.parquet").to_pylist()
        by_row = {(x["file"], x["row"]): x for x in links}
        expected = set()
        for name in noisy.files(source):
            for row, (cell, who) in enumerate(
                zip(noisy.column(name, id_field), noisy.column(name, name_field), strict=True),
                start=1,
            ):
                if not uscc.is_valid(_fold(cell)):  # the spec folds full-width first
                    expected.add((name, row))
                    link = by_row[(name, row)]
                    assert link["delivered_id"] == cell and link["delivered_name"] == who
        assert expected == set(by_row), source
        kinds = {x["id_kind"] for x in links}
        assert {"missing", "mistyped"} <= kinds
        for x in links:
            true = known[x["true_uscc"]]
            assert true["kind"] == "shanghai"
            if x["delivered_name"]:
                assert _core(x["delivered_name"]) == _core(true["name"]), (x, true["name"])
    # Full-width USCCs are valid once folded (as the spec and stdnum fold them): not in the truth.
    assert any(
        not c.isascii() and uscc.is_valid(_fold(c)) for c in noisy.column("stats.tsv", "uscc")
    )


def _core(name: str) -> str:
    name = name.strip().replace("(", "（").replace(")", "）").replace("（分公司）", "")
    return name.replace("有限责任公司", "有限公司")


def test_tax_periods_amounts_and_name_variants(clean: World) -> None:
    periods, names, ids = [], [], []
    for f in clean.files("tax"):
        periods += clean.column(f, "period")
        names += clean.column(f, "taxpayer_name")
        ids += clean.column(f, "taxpayer_id")
        for amount in clean.column(f, "tax_paid"):
            assert float(amount.replace(",", "")) > 0
    assert any(re.fullmatch(r"2018-\d\d", p) for p in periods)
    assert any(re.fullmatch(r"2018\d\d", p) for p in periods)
    assert any(re.fullmatch(r"2018年\d\d月", p) for p in periods)
    assert any(re.fullmatch(r"2018-\d\d-01至2018-\d\d-\d\d", p) for p in periods)
    assert any(n.endswith("（分公司）") for n in names) and any(n.endswith(" ") for n in names)
    assert any(re.fullmatch(r"\d{15}", i) for i in ids) and "" in ids
    assert any(len(i) == 18 and not uscc.is_valid(i) for i in ids)
