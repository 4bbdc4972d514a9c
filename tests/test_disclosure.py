"""Disclosure control: small groups' money is hidden and cannot be recovered by subtraction.

The attacker below is written independently of ``crossinvest.access.disclosure``:
it builds every published margin itself (the total row, each marginal group of
a several-dim table, each province / industry section parent, the latter read
from the spec's GB/T 4754-2017 table), subtracts the visible cells and solves
the resulting linear system exactly (fractions). A suppressed cell is exposed
when its unit vector lies in the row space of those equations; that includes
the simple case of one unknown left in a group.
"""

from __future__ import annotations

import csv
import io
import itertools
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from crossinvest.access import actor as actor_mod
from crossinvest.access.actor import LOCAL_ANALYST, Actor
from crossinvest.access.disclosure import MIN_ENTERPRISES, MONEY, plan, suppress
from crossinvest.web.app import create_app
from crossinvest.web.testing import demo_home

SPEC_INDUSTRIES = Path("/work/shared/spec/gbt4754-2017.csv")
COUNTS = ("enterprises", "new_enterprises", "employees")


def _spec_sections() -> dict[str, str]:
    with SPEC_INDUSTRIES.open(encoding="utf-8") as f:
        return {r["code"]: r["section"] for r in csv.DictReader(f) if r["level"] == "大类"}


SECTIONS = _spec_sections()
PARENT = {
    "origin_prefecture": lambda c: c[:2] + "0000" if c and len(c) == 6 else None,
    "dest_prefecture": lambda c: c[:2] + "0000" if c and len(c) == 6 else None,
    "industry_division": lambda c: SECTIONS.get(c) if c else None,
}


# ---------------------------------------------------------------- the attacker


def margins(rows: list[dict], dims: list[str], total_count: int) -> list[list[int]]:
    """Index sets whose sums are published with a visible money figure (worst case).

    A margin over several cells is visible when its enterprises reach three (the
    model's cells hold disjoint enterprises, so its count is the cells' sum); the
    total row when the table's total count does.
    """
    out: list[list[int]] = []
    if total_count >= MIN_ENTERPRISES and len(rows) > 1:
        out.append(list(range(len(rows))))
    keys: list[Any] = []
    for d in dims:
        others = [x for x in dims if x != d]
        if len(dims) > 1:
            keys.append(lambda r, o=others: ("m", tuple(r[x] for x in o)))
        if d in PARENT:
            keys.append(
                lambda r, d=d, o=others: (
                    None if PARENT[d](r[d]) is None else ("p", PARENT[d](r[d]), *(r[x] for x in o))
                )
            )
    for key in keys:
        groups: dict[Any, list[int]] = {}
        for i, r in enumerate(rows):
            k = key(r)
            if k is not None:
                groups.setdefault(k, []).append(i)
        for g in groups.values():
            if len(g) > 1 and sum(rows[i]["enterprises"] for i in g) >= MIN_ENTERPRISES:
                out.append(g)
    return out


def exposed(hidden: list[int], groups: list[list[int]]) -> set[int]:
    """Hidden cells whose value the groups' sums determine (exact rational elimination)."""
    return solve(hidden, [dict.fromkeys(g, 1) for g in groups])


def solve(hidden: list[int], equations: list[dict[int, int]]) -> set[int]:
    """Hidden variables fixed by ``equations`` ({variable: coefficient} = known value).

    Visible variables move to the right-hand side; a hidden one is determined iff
    its unit vector is in the row space: in reduced row echelon form, its pivot
    row has no other entry.
    """
    cols = {c: j for j, c in enumerate(hidden)}
    matrix = [[Fraction(0)] * len(hidden) for _ in equations]
    for row, eq in zip(matrix, equations, strict=True):
        for i, coef in eq.items():
            if i in cols:
                row[cols[i]] = Fraction(coef)
    pivots: list[int] = []
    r = 0
    for c in range(len(hidden)):
        p = next((k for k in range(r, len(matrix)) if matrix[k][c] != 0), None)
        if p is None:
            continue
        matrix[r], matrix[p] = matrix[p], matrix[r]
        piv = matrix[r][c]
        matrix[r] = [v / piv for v in matrix[r]]
        for k in range(len(matrix)):
            if k != r and matrix[k][c] != 0:
                f = matrix[k][c]
                matrix[k] = [x - f * y for x, y in zip(matrix[k], matrix[r], strict=True)]
        pivots.append(c)
        r += 1
    return {hidden[c] for k, c in enumerate(pivots) if sum(v != 0 for v in matrix[k]) == 1}


def attack(out: list[dict], dims: list[str], total_count: int) -> set[int]:
    """Row indices of suppressed cells an attacker can compute from the published figures."""
    # A group without enterprises is known to hold no money: not an unknown.
    unknown = [r["suppressed"] and r["enterprises"] > 0 for r in out]
    hidden = [i for i, u in enumerate(unknown) if u]
    groups = margins(out, dims, total_count)
    one_left = {next(i for i in g if unknown[i]) for g in groups if sum(unknown[i] for i in g) == 1}
    found = exposed(hidden, groups)
    assert one_left <= found  # the exact solver sees at least what subtraction sees
    return found


# ---------------------------------------------------------------- generated tables

small_count = st.integers(0, 8) | st.sampled_from([0, 1, 2])
money = st.integers(1, 10**6).map(float)
PROVINCES = ["110000", "310000", "320000", "330000", "420000"]
PREFECTURES = [p[:2] + s for p in PROVINCES for s in ("0100", "0200", "0300")]
DIVISIONS = sorted(SECTIONS)[:12]  # divisions of the first few sections (A, B, C)
DISTRICTS = ["310101", "310104", "310115", "310112"]


def _cell(draw: Any, dims: dict[str, Any]) -> dict:
    row = dict(dims)
    for d in dims:
        row[f"{d}_name"] = f"名称{dims[d]}"
    row["enterprises"] = draw(small_count)
    row["new_enterprises"] = draw(st.integers(0, row["enterprises"]))
    row["employees"] = draw(st.integers(0, 500))
    for m in ("investment_wan", "tax_wan", "revenue_wan"):
        row[m] = draw(money) if row["enterprises"] else 0.0  # no enterprise, no money
    return row


@st.composite
def tables(draw: Any, dims: tuple[str, ...]) -> tuple[list[dict], list[str]]:
    """A table over ``dims``: a subset of the value grid, each cell with measures."""
    values = {
        "origin_province": PROVINCES + [None],
        "origin_prefecture": PREFECTURES + ["100000", None],
        "dest_prefecture": PREFECTURES,
        "industry_division": DIVISIONS,
        "district": DISTRICTS,
    }
    pools = [
        draw(st.lists(st.sampled_from(values[d]), min_size=1, max_size=6, unique=True))
        for d in dims
    ]
    combos = list(itertools.product(*pools))
    chosen = draw(st.lists(st.sampled_from(combos), min_size=1, max_size=24, unique=True))
    rows = [_cell(draw, dict(zip(dims, c, strict=True))) for c in chosen]
    return rows, list(dims)


def _total(rows: list[dict]) -> dict:
    t: dict[str, Any] = {c: sum(r[c] for r in rows) for c in COUNTS}
    t.update({m: sum(r[m] for r in rows) for m in ("investment_wan", "tax_wan", "revenue_wan")})
    return t


def _check_table(rows: list[dict], dims: list[str]) -> None:
    before = [dict(r) for r in rows]
    total = _total(rows)
    out = suppress(rows, dims, total)
    assert rows == before  # the input is not changed
    assert len(out) == len(rows)
    for r, o in zip(rows, out, strict=True):
        small = r["enterprises"] < MIN_ENTERPRISES
        assert o["suppressed"] is True or not small  # primary suppression
        for k, v in r.items():
            if k in MONEY and o["suppressed"]:
                assert o[k] is None
            else:
                assert o[k] == v  # counts, dims and visible money untouched
    found = attack(out, dims, total["enterprises"])
    _, stuck = plan(rows, dims, total)
    note(
        repr(
            [
                ({d: r[d] for d in dims}, r["enterprises"], o["suppressed"])
                for r, o in zip(rows, out, strict=True)
            ]
        )
    )
    event(f"stuck={bool(stuck)}")
    # Nothing recoverable, except cells the module itself reports as beyond help:
    assert found <= stuck
    # ... and those are given by the published margins alone: hiding every cell
    # of the table would not protect them.
    groups = margins(out, dims, total["enterprises"])
    assert stuck <= exposed([i for i, r in enumerate(out) if r["enterprises"] > 0], groups)


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(tables(("origin_province",)))
def test_one_dim_tables_hide_small_groups_and_resist_the_total_row(t: Any) -> None:
    rows, dims = t
    _check_table(rows, dims)
    _, stuck = plan(rows, dims, _total(rows))
    assert not stuck  # a 1-D table can always be protected


@SETTINGS
@given(tables(("origin_province", "district")))
def test_two_dim_tables_resist_every_marginal_group(t: Any) -> None:
    _check_table(*t)


@SETTINGS
@given(tables(("origin_prefecture",)) | tables(("dest_prefecture",)))
def test_prefectures_resist_their_provinces(t: Any) -> None:
    _check_table(*t)


@SETTINGS
@given(tables(("origin_prefecture", "industry_division")) | tables(("industry_division",)))
def test_divisions_resist_their_sections_and_prefectures_their_provinces(t: Any) -> None:
    _check_table(*t)


@SETTINGS
@given(tables(("origin_prefecture",)))
def test_prefecture_and_province_tables_published_together(t: Any) -> None:
    """The province table is the prefectures' parent: attack both tables as one system.

    Every published cell of either table is a variable (the hidden ones
    unknown): each province equals the sum of its prefectures, and both tables
    share the total row. The prefecture table is protected against a visible
    parent, so no small prefecture is recovered even with the province table's help.
    """
    rows, _ = t
    rows = [r for r in rows if r["origin_prefecture"]]  # cells with a known parent
    if not rows:
        return
    prov_of = PARENT["origin_prefecture"]
    provinces: dict[str, dict] = {}
    for r in rows:
        agg = provinces.setdefault(
            prov_of(r["origin_prefecture"]),
            {"origin_province": prov_of(r["origin_prefecture"]), "enterprises": 0, "tax_wan": 0.0},
        )
        agg["enterprises"] += r["enterprises"]
        agg["tax_wan"] += r["tax_wan"]
    total = _total(rows)
    child = suppress(rows, ["origin_prefecture"], total)
    parent = suppress(list(provinces.values()), ["origin_province"], total)
    n = len(child)
    equations: list[dict[int, int]] = []
    for j, p in enumerate(parent):  # sum of the province's prefectures - province = 0
        eq = {
            i: 1
            for i, r in enumerate(child)
            if prov_of(r["origin_prefecture"]) == p["origin_province"]
        }
        equations.append({**eq, n + j: -1})
    if total["enterprises"] >= MIN_ENTERPRISES:
        equations.append(dict.fromkeys(range(n), 1))
        equations.append(dict.fromkeys(range(n, n + len(parent)), 1))
    hidden = [
        i for i, c in enumerate([*child, *parent]) if c["suppressed"] and c["enterprises"] > 0
    ]
    found = solve(hidden, equations)
    _, stuck = plan(rows, ["origin_prefecture"], total)
    # What must stay secret is a small group's money (a complement with three or
    # more enterprises may be recovered: that discloses no single firm).
    small = {i for i, c in enumerate(rows) if 0 < c["enterprises"] < 3}
    assert found & small <= stuck
    # Not asserted (a residual risk of per-table suppression, see the module): the
    # province table picks its complements without seeing the prefecture table, so
    # a province hidden only as a complement can be the sum of visible prefectures,
    # and then a small province follows from the total.


def test_legacy_call_on_a_lone_total() -> None:
    assert suppress([{"enterprises": 2, "tax_wan": 9.0}])[0]["tax_wan"] is None
    assert suppress([{"enterprises": 3, "tax_wan": 9.0}])[0]["tax_wan"] == 9.0


def test_an_empty_group_is_no_complement() -> None:
    """No enterprise, no money: hiding an empty group's zeros protects nothing."""
    rows = [{"enterprises": n, "tax_wan": float(n)} for n in (1, 0, 9, 3)]
    out = suppress(rows)
    assert [r["suppressed"] for r in out] == [True, True, False, True]


def test_quarters_are_protected_against_their_year() -> None:
    from crossinvest.web.datasets.stats import _protect_quarters

    q = {
        f"2020Q{i}": {"enterprises": n, "tax_wan": 10.0 * i} for i, n in enumerate((2, 5, 6, 7), 1)
    }
    year = {"2020": {"enterprises": 7, "tax_wan": 100.0}}
    viewer = SimpleNamespace(sees_enterprise_money=False)
    out = _protect_quarters(viewer, year, q)  # type: ignore[arg-type]
    hidden = [k for k, v in out.items() if v["tax_wan"] is None]
    assert hidden == ["2020Q1", "2020Q2"]  # the small quarter and the next smallest
    analyst = SimpleNamespace(sees_enterprise_money=True)
    assert _protect_quarters(analyst, year, q) == q  # type: ignore[arg-type]


# ---------------------------------------------------------------- through the API

VIEWER = Actor(id="v", name="查阅者", role="viewer")
# An agency user granted the enterprise register but not enterprise money.
REGISTER_ONLY = Actor(id="a", name="委办局", role="agency", grants=frozenset({"enterprise"}))


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    home = demo_home(tmp_path_factory.mktemp("disclosure") / "home")
    current: list[Actor] = [LOCAL_ANALYST]
    saved = list(actor_mod.RESOLVERS)
    actor_mod.RESOLVERS.insert(0, lambda request: current[0])
    try:
        with TestClient(create_app(home, inbox_interval=None)) as client:

            def as_(actor: Actor) -> TestClient:
                current[0] = actor
                return client

            yield as_
    finally:
        actor_mod.RESOLVERS[:] = saved


def _data(r: Any) -> Any:
    assert r.status_code == 200, r.text[:300]
    return r.json()["data"]


def _year(api: Any) -> int:
    return _data(api(LOCAL_ANALYST).get("/api/v1/latest-year"))["year"]


@pytest.mark.parametrize(
    "by", ["origin_province", "origin_prefecture", "origin_province,district", "industry_division"]
)
def test_viewer_tables_hide_small_groups_and_resist_subtraction(api: Any, by: str) -> None:
    year = _year(api)
    params = {"period": year, "by": by}
    full = _data(api(LOCAL_ANALYST).get("/api/v1/stats/inbound", params=params))
    seen = _data(api(VIEWER).get("/api/v1/stats/inbound", params=params))
    dims = by.split(",")
    assert all(r.get("suppressed") is not True for r in full["rows"])  # the analyst sees all
    assert all(r["tax_wan"] is not None for r in full["rows"])
    assert len(seen["rows"]) == len(full["rows"])
    small = [i for i, r in enumerate(full["rows"]) if r["enterprises"] < MIN_ENTERPRISES]
    assert small, "the demo should have small groups"
    for i, (f, s) in enumerate(zip(full["rows"], seen["rows"], strict=True)):
        assert {d: s[d] for d in dims} == {d: f[d] for d in dims}
        assert all(s[c] == f[c] for c in COUNTS)  # counts are never hidden
        if i in small:
            assert s["suppressed"] and all(s[m] is None for m in MONEY if m in s)
        elif not s["suppressed"]:
            assert all(s[m] == f[m] for m in MONEY if m in f)
    # Total minus the visible groups never leaves a single hidden group.
    hidden = sum(r["suppressed"] for r in seen["rows"])
    assert hidden != 1
    assert seen["total"]["tax_wan"] == full["total"]["tax_wan"]  # a large total is shown
    found = attack(seen["rows"], dims, seen["total"]["enterprises"])
    from crossinvest.access.disclosure import plan as plan_

    _, stuck = plan_(full["rows"], dims, full["total"])
    assert found <= stuck

    # The exports carry the same blanks.
    csv_text = (
        api(VIEWER)
        .get("/api/v1/stats/inbound/export", params={**params, "format": "csv"})
        .content.decode("utf-8-sig")
    )
    table = list(csv.reader(io.StringIO(csv_text)))
    header, body = table[0], table[1:-1]  # the last line is the total row
    tax_col = header.index("纳税额（万元）")
    ent_col = header.index("企业数")
    assert len(body) == len(seen["rows"])
    for line, s in zip(body, seen["rows"], strict=True):
        assert int(line[ent_col]) == s["enterprises"]
        assert (line[tax_col] == "") == s["suppressed"]

    from python_calamine import CalamineWorkbook

    xlsx = api(VIEWER).get("/api/v1/stats/inbound/export", params={**params, "format": "xlsx"})
    wb = CalamineWorkbook.from_filelike(io.BytesIO(xlsx.content))
    sheet = wb.get_sheet_by_index(0).to_python()
    xh, xbody = sheet[0], sheet[1:-1]
    assert len(xbody) == len(seen["rows"])
    for line, s in zip(xbody, seen["rows"], strict=True):
        assert (line[xh.index("纳税额（万元）")] in ("", None)) == s["suppressed"]


def test_overview_hides_small_totals_for_a_viewer(api: Any) -> None:
    year = _year(api)
    full = _data(api(LOCAL_ANALYST).get("/api/v1/overview", params={"kind": "outbound"}))
    seen = _data(api(VIEWER).get("/api/v1/overview", params={"kind": "outbound"}))
    assert full["year"] == seen["year"] == year
    for part in ("by_year", "by_quarter"):
        for f, s in zip(full[part], seen[part], strict=True):
            assert s["enterprises"] == f["enterprises"]
            if f["enterprises"] < MIN_ENTERPRISES:
                assert s["tax_wan"] is None and s["suppressed"]
    for y in seen["by_year"]:
        qs = [q for q in seen["by_quarter"] if q["period"].startswith(f"{y['period']}Q")]
        if y["tax_wan"] is not None:
            assert sum(q["tax_wan"] is None for q in qs) != 1


def test_enterprise_list_and_profile_carry_no_tax_or_revenue(api: Any) -> None:
    year = _year(api)
    params = {"period": year}
    full = _data(api(LOCAL_ANALYST).get("/api/v1/stats/inbound/enterprises", params=params))
    assert full["rows"] and "tax_wan" in full["rows"][0]  # the analyst sees them
    c = api(REGISTER_ONLY)
    rows = _data(c.get("/api/v1/stats/inbound/enterprises", params=params))["rows"]
    assert rows and all(not {"tax_wan", "revenue_wan", "profit_wan"} & set(r) for r in rows)
    for fmt in ("csv", "xlsx"):
        body = c.get("/api/v1/stats/inbound/enterprises/export", params={**params, "format": fmt})
        assert body.status_code == 200
        if fmt == "csv":
            header = body.content.decode("utf-8-sig").splitlines()[0]
        else:
            from python_calamine import CalamineWorkbook

            book = CalamineWorkbook.from_filelike(io.BytesIO(body.content))
            header = repr(book.get_sheet_by_index(0).to_python()[0])
        assert "企业名称" in header  # a real header ...
        assert "纳税额" not in header and "营业收入" not in header  # ... without the money
    uscc = rows[0]["uscc"]
    prof_full = _data(api(LOCAL_ANALYST).get(f"/api/v1/enterprises/{uscc}"))
    assert "tax_by_month" in prof_full
    prof = _data(api(REGISTER_ONLY).get(f"/api/v1/enterprises/{uscc}"))
    flat = repr(prof)
    assert "tax_wan" not in flat and "revenue_wan" not in flat and "profit_wan" not in flat
    assert not {k for k in prof if k.startswith(("tax", "stats"))}
    # The viewer (no register) gets neither.
    assert api(VIEWER).get(f"/api/v1/enterprises/{uscc}").status_code == 403


def test_filtered_and_variant_tables_show_no_money_without_the_grant(api: Any) -> None:
    """Subtracting a filtered (or persons / penetrated) table from the published one would
    give the few enterprises they differ by: those tables show counts and investment only."""
    year = _year(api)
    seen = _data(
        api(VIEWER).get("/api/v1/stats/inbound", params={"period": year, "by": "district"})
    )
    assert any(not r["suppressed"] and r["tax_wan"] is not None for r in seen["rows"])
    district = next(r["district"] for r in seen["rows"] if not r["suppressed"])
    variants = [
        {"district": district},
        {"industry_section": "C,F,I"},
        {"include_persons": "true"},
        {"penetrate": "true"},
    ]
    for extra in variants:
        params = {"period": year, "by": "origin_province", **extra}
        part = _data(api(VIEWER).get("/api/v1/stats/inbound", params=params))
        full = _data(api(LOCAL_ANALYST).get("/api/v1/stats/inbound", params=params))
        assert part["total"]["enterprises"] == full["total"]["enterprises"], extra
        assert full["total"]["tax_wan"] is not None, extra
        for r in [*part["rows"], part["total"]]:
            assert r["suppressed"] and r["tax_wan"] is None and r["revenue_wan"] is None, extra
        assert [r["investment_wan"] for r in part["rows"]] == [
            r["investment_wan"] for r in full["rows"]
        ], extra
    # The overview's penetrated headline is the same kind of variant.
    params = {"kind": "inbound", "year": year, "penetrate": "true"}
    head = _data(api(VIEWER).get("/api/v1/overview", params=params))
    assert head["current"]["tax_wan"] is None and head["current"]["enterprises"] > 0
    assert _data(api(LOCAL_ANALYST).get("/api/v1/overview", params=params))["current"]["tax_wan"]
