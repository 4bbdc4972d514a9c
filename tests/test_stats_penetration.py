"""Ownership penetration: holdings, cross-holding cycles, the 10-level limit, outbound mirror.

Worked out by hand (capital in 万元, shares as fractions):

Holding: E (cap 1000) <- ZJ 浙江 0.4 (subscribed 400), <- H1 上海 0.6.
         H1 (cap 2000) <- JS 江苏 0.5 (subscribed 1000), <- a Shanghai person 0.5.
  direct:      浙江: E 400;  江苏: H1 1000
  penetrated:  浙江: E 1000×0.4 = 400;  江苏: E 1000×0.6×0.5 = 300 and H1 2000×0.5 = 1000

Cycle: X (cap 100) <- Y 1.0;  Y (cap 200) <- X 0.5, <- GD 广东 0.5 (subscribed 100).
  X: X→Y→X is cut; X→Y→GD = 0.5 → 50.   Y: Y→GD 0.5 → 100;  Y→X→Y cut.
  direct 广东: Y 100;  penetrated 广东: X 50 + Y 100

Chain L0 <- L1 <- … <- L10 <- BJ 北京 (every share 1.0, capital 100 each):
  BJ would be L0's 11th level: L0 does not count; L1..L10 do (L1 reaches BJ at level 10).
Chain M0 <- … <- M9 <- XJ 新疆: M0 reaches XJ at level 10 exactly: M0..M9 all count.
"""

from __future__ import annotations

import pytest

from crossinvest.analytics import query
from tests.test_analytics_world import World, mk_uscc

E, H1, ZJ, JS = (
    mk_uscc("310115", 1),
    mk_uscc("310104", 2),
    mk_uscc("330106", 3),
    mk_uscc("320106", 4),
)
X, Y, GD = mk_uscc("310112", 5), mk_uscc("310112", 6), mk_uscc("440305", 7)
L = [mk_uscc("310106", 100 + i) for i in range(11)]
M = [mk_uscc("310106", 200 + i) for i in range(10)]
BJ, XJ = mk_uscc("110108", 8), mk_uscc("653125", 9)
# Outbound mirror: O1 (浙江, cap 500) <- S2 上海 0.5, <- J 江苏 holding 0.5; J (cap 300) <- S 上海 1.0.
O1, J, S, S2 = (
    mk_uscc("330106", 40),
    mk_uscc("320106", 41),
    mk_uscc("310115", 42),
    mk_uscc("310104", 43),
)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("pen") / "home")
    w.ent(E, capital=1000)
    w.ent(H1, region="310104", capital=2000)
    w.holder(E, "浙江", uscc=ZJ, subscribed=400, share=0.4)
    w.holder(E, "H1", uscc=H1, subscribed=600, share=0.6)
    w.holder(H1, "江苏", uscc=JS, subscribed=1000, share=0.5)
    w.holder(H1, "某人", person_division="310104", subscribed=1000, share=0.5)
    w.ent(X, region="310112", capital=100)
    w.ent(Y, region="310112", capital=200)
    w.holder(X, "Y", uscc=Y, subscribed=100, share=1.0)
    w.holder(Y, "X", uscc=X, subscribed=100, share=0.5)
    w.holder(Y, "广东", uscc=GD, subscribed=100, share=0.5)
    for chain, top, name in ((L, BJ, "北京"), (M, XJ, "新疆")):
        for i, key in enumerate(chain):
            w.ent(key, region="310106", capital=100)
            if i:
                w.holder(chain[i - 1], f"链{i}", uscc=key, subscribed=100, share=1.0)
        w.holder(chain[-1], name, uscc=top, subscribed=100, share=1.0)
    w.ent(O1, region="330106", capital=500)
    w.ent(J, region="320106", capital=300)
    w.holder(O1, "S2", uscc=S2, subscribed=250, share=0.5)
    w.holder(O1, "J", uscc=J, subscribed=250, share=0.5)
    w.holder(J, "S", uscc=S, subscribed=300, share=1.0)
    w.rebuild()
    yield w
    w.close()


def by_province(w, kind="inbound", penetrate=False, persons=False):
    r = query.stats(
        w.con, kind, "2018", ["origin_province"], penetrate=penetrate, include_persons=persons
    )
    return {
        row["origin_province"]: (row["enterprises"], row["investment_wan"]) for row in r.rows
    }, r.total


def test_direct_counts_first_level_investors_only(world):
    rows, total = by_province(world)
    assert rows["330000"] == (1, pytest.approx(400.0))
    assert rows["320000"] == (1, pytest.approx(1000.0))
    assert rows["440000"] == (1, pytest.approx(100.0))  # Y
    assert rows["110000"] == (1, pytest.approx(100.0))  # L10
    assert rows["650000"] == (1, pytest.approx(100.0))  # M9
    assert total["enterprises"] == 5


def test_penetration_through_a_shanghai_holding(world):
    rows, _ = by_province(world, penetrate=True)
    assert rows["330000"] == (1, pytest.approx(400.0))
    assert rows["320000"] == (2, pytest.approx(300.0 + 1000.0))


def test_cross_holdings_are_cut(world):
    rows, _ = by_province(world, penetrate=True)
    assert rows["440000"] == (2, pytest.approx(50.0 + 100.0))


def test_ten_level_limit(world):
    rows, total = by_province(world, penetrate=True)
    assert rows["110000"] == (10, pytest.approx(1000.0))  # L1..L10, not L0
    assert rows["650000"] == (10, pytest.approx(1000.0))  # M0..M9
    # E, H1, X, Y, L1..L10, M0..M9
    assert total["enterprises"] == 4 + 10 + 10


def test_a_shanghai_person_ends_a_path_without_origin(world):
    rows, _ = by_province(world, penetrate=True, persons=True)
    assert "310000" not in rows
    assert rows["320000"] == (2, pytest.approx(1300.0))


def test_outbound_direct_and_mirror_penetration(world):
    rows, total = by_province(world, kind="outbound")
    # Direct: O1 via S2 (250), J via S (300)
    assert rows == {"310000": (2, pytest.approx(550.0))}
    rows, total = by_province(world, kind="outbound", penetrate=True)
    # O1: 500 × (0.5 + 0.5×1.0) = 500; J: 300 × 1.0
    assert rows == {"310000": (2, pytest.approx(800.0))}
    assert total["investment_wan"] == pytest.approx(800.0)
