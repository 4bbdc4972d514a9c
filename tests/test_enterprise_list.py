"""The enterprise list's rounds and its one-query fallback give exactly the figure's enterprises."""

from __future__ import annotations

from typing import Any

import pytest

from crossinvest.access.actor import LOCAL_ANALYST
from crossinvest.access.gate import ReadContext
from crossinvest.analytics.query import stats
from crossinvest.warehouse.connection import connect
from crossinvest.web.datasets import enterprise_list as el
from crossinvest.web.testing import demo_home


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    wh = connect(demo_home(tmp_path_factory.mktemp("list") / "home"))
    yield wh.con
    wh.close()


def _year(con: Any) -> int:
    return int(con.execute("SELECT max(year) FROM an_yearly").fetchall()[0][0])


def _all_pages(con: Any, limit: int, **kw: Any) -> list[str]:
    keys: list[str] = []
    cursor = None
    while True:
        page = el.enterprise_list(ReadContext(con, LOCAL_ANALYST), cursor=cursor, limit=limit, **kw)
        keys += [r["enterprise_key"] for r in page["rows"]]
        cursor = page["next"]
        if cursor is None:
            return keys


def _cases(con: Any, year: int) -> list[tuple[str, bool, dict[str, list[str]]]]:
    out: list[tuple[str, bool, dict[str, list[str]]]] = [
        ("inbound", False, {}),
        ("outbound", True, {}),
    ]
    prov = max(
        stats(con, "inbound", str(year), ["origin_province"]).rows, key=lambda r: r["enterprises"]
    )
    dist = stats(con, "inbound", str(year), ["district"], penetrate=True).rows
    small = min((r for r in dist if r["district"]), key=lambda r: r["enterprises"])
    big = max((r for r in dist if r["district"]), key=lambda r: r["enterprises"])
    out += [
        ("inbound", False, {"origin_province": [prov["origin_province"]]}),
        ("inbound", True, {"district": [small["district"]]}),
        (
            "inbound",
            True,
            {"district": [big["district"]], "origin_province": [prov["origin_province"]]},
        ),
    ]
    return out


@pytest.mark.parametrize("first_round,rounds", [(200, 3), (1, 1), (1, 2), (3, 0)])
def test_every_strategy_lists_exactly_the_figures_enterprises(
    con, monkeypatch: pytest.MonkeyPatch, first_round: int, rounds: int
) -> None:  # type: ignore[no-untyped-def]
    # Tiny rounds force many rounds and the one-query fallback on a small warehouse.
    monkeypatch.setattr(el, "_FIRST_ROUND", first_round)
    monkeypatch.setattr(el, "_ROUNDS", rounds)
    year = _year(con)
    for kind, pen, flt in _cases(con, year):
        want = stats(con, kind, str(year), ["district"], penetrate=pen, filters=flt or None).total
        keys = _all_pages(con, 3, kind=kind, period=str(year), filters=flt, penetrate=pen)
        assert len(keys) == len(set(keys)) == want["enterprises"], (kind, pen, flt)
        assert keys == sorted(keys)


@pytest.mark.parametrize("one_origin", [False, True])
def test_page_columns_match_the_figure(con, one_origin: bool) -> None:  # type: ignore[no-untyped-def]
    # With an origin filter the page's groups are read through the filter, without
    # one by key (_details): both must give the figure's sums.
    year = _year(con)
    flt = None
    if one_origin:
        prov = max(
            stats(con, "inbound", str(year), ["origin_province"]).rows,
            key=lambda r: r["enterprises"],
        )
        flt = {"origin_province": [prov["origin_province"]]}
    want = stats(con, "inbound", str(year), ["district"], filters=flt).total
    rows = el.enterprise_list(
        ReadContext(con, LOCAL_ANALYST),
        kind="inbound",
        period=str(year),
        filters=flt,
        limit=100_000,
    )["rows"]
    assert len(rows) == want["enterprises"]
    assert sum(r["investment_wan"] or 0 for r in rows) == pytest.approx(want["investment_wan"])
    assert sum(r["tax_wan"] or 0 for r in rows) == pytest.approx(want["tax_wan"])
    assert all(r["origins"] and r["name"] for r in rows)


def test_a_round_sums_only_the_enterprises_it_read_whole(con) -> None:  # type: ignore[no-untyped-def]
    # The page takes the round's sums instead of reading the groups again: an
    # enterprise whose rows the round's LIMIT cut in two must not be among them.
    year = _year(con)
    p = el.parse_period(str(year))
    multi = con.execute(
        """SELECT g.enterprise_key, g.penetrate, o.province_code, count(*), sum(g.investment_wan)
           FROM an_groups g JOIN an_region_lookup o ON o.code = g.origin_code
           WHERE g.kind = 'inbound' GROUP BY ALL HAVING count(*) > 1 ORDER BY 4 DESC, 1 LIMIT 1"""
    ).fetchall()
    assert multi, "the demo data has an enterprise with two groups from one province"
    key, pen, prov, n, total = multi[0]
    f = el._Filters("inbound", p, {"origin_province": [prov]}, pen, True)
    before = con.execute(
        """SELECT max(g.enterprise_key) FROM an_groups g JOIN an_region_lookup o ON o.code = g.origin_code
           WHERE g.kind = 'inbound' AND g.penetrate = ? AND o.province_code = ? AND g.enterprise_key < ?""",
        [pen, prov, key],
    ).fetchall()[0][0]
    cut: dict[str, dict[str, Any]] = {}
    el._round_by_groups(con, f, before, n - 1, cut)  # the LIMIT ends inside key's rows
    assert key not in cut
    whole: dict[str, dict[str, Any]] = {}
    el._round_by_groups(con, f, before, n + 5, whole)
    assert whole[key]["investment_wan"] == pytest.approx(total)
    assert whole[key] == el._group_sums(con, f, [key])[key] | {"n": n}
