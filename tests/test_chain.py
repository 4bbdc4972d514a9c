"""The ownership chain of one enterprise, walked level by level, equals the recursive SQL
definition (a recursive CTE, fine on small data but too hungry at 25M holdings)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from crossinvest.warehouse.connection import connect
from crossinvest.web.datasets.enterprises import MAX_DEPTH, paths_up
from crossinvest.web.testing import demo_home

ORACLE = f"""
WITH RECURSIVE up(child, investor_key, is_person, ratio, eff, depth, path) AS (
    SELECT s.enterprise_uscc, s.investor_key, s.is_person, s.share_ratio, s.share_ratio, 1,
           [s.enterprise_uscc, s.investor_key]
    FROM shareholders s WHERE s.enterprise_uscc = ? AND s.investor_key <> s.enterprise_uscc
    UNION ALL
    SELECT s.enterprise_uscc, s.investor_key, s.is_person, s.share_ratio, up.eff * s.share_ratio,
           up.depth + 1, list_append(up.path, s.investor_key)
    FROM up JOIN shareholders s ON s.enterprise_uscc = up.investor_key
    WHERE up.depth < {MAX_DEPTH} AND NOT list_contains(up.path, s.investor_key)
)
SELECT child, investor_key, depth, eff, path FROM up
"""


def _key(p: dict) -> tuple:
    return (tuple(p["path"]), p["depth"])


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    home = demo_home(Path(tmp_path_factory.mktemp("chain")) / "home", enterprises=400)
    with connect(home) as wh:
        yield wh.con


def test_paths_equal_the_recursive_definition(con) -> None:  # type: ignore[no-untyped-def]
    roots = [r[0] for r in con.execute(
        "SELECT enterprise_uscc FROM shareholders GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 60"
    ).fetchall()]  # fmt: skip
    deepest = 0
    for root in roots:
        mine = {_key(p): p for p in paths_up(con, root)}
        cur = con.execute(ORACLE, [root])
        cols = [d[0] for d in cur.description]
        want = {_key(p): p for p in (dict(zip(cols, r, strict=True)) for r in cur.fetchall())}
        assert mine.keys() == want.keys(), root
        for k, p in want.items():
            a, b = mine[k]["eff"], p["eff"]
            assert (a is None and b is None) or math.isclose(a, b, rel_tol=1e-12), (root, k)
        deepest = max([deepest, *(p["depth"] for p in mine.values())])
    assert deepest >= 2, "the sample should include holdings more than one level deep"


def test_registry_names_are_attached(con) -> None:  # type: ignore[no-untyped-def]
    root = con.execute(
        "SELECT s.enterprise_uscc FROM shareholders s JOIN registry r ON r.uscc = s.investor_key "
        "LIMIT 1"
    ).fetchone()[0]
    steps = paths_up(con, root)
    known = [p for p in steps if p["in_registry"]]
    assert known and all(p["registry_name"] for p in known)
    assert all(not p["in_registry"] for p in steps if p["is_person"])


def test_a_scope_ends_paths_at_the_investors_it_may_not_see(con) -> None:  # type: ignore[no-untyped-def]
    """A district user sees who holds its enterprise, not who holds those holders."""
    roots = [r[0] for r in con.execute(
        "SELECT enterprise_uscc FROM shareholders GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 60"
    ).fetchall()]  # fmt: skip
    root = next(r for r in roots if any(p["depth"] >= 2 for p in paths_up(con, r)))
    whole = paths_up(con, root)
    assert {p["depth"] for p in paths_up(con, root, lambda keys: set())} == {1}
    # Allowing one investor enterprise walks its holders and nobody else's.
    some = next(p["investor_key"] for p in whole if p["depth"] == 1 and not p["is_person"])
    walked = paths_up(con, root, lambda keys: keys & {some})
    assert {p["child"] for p in walked} == {root} | ({some} if any(
        p["child"] == some for p in whole) else set())  # fmt: skip
    assert all(p["path"][1] == some for p in walked if p["depth"] >= 2)
