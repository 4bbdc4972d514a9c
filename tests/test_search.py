"""Enterprise search finds what its definition says: a name containing q (any case), or a code starting with it."""

from __future__ import annotations

from typing import Any

import pytest

from crossinvest.access.actor import LOCAL_ANALYST
from crossinvest.access.gate import ReadContext
from crossinvest.warehouse.connection import connect
from crossinvest.web.datasets.enterprises import search
from crossinvest.web.testing import demo_home


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    wh = connect(demo_home(tmp_path_factory.mktemp("search") / "home"))
    # One name with Latin letters, to search in another case.
    wh.con.execute(
        "UPDATE registry_rows SET name = name || 'ABC科创' WHERE enterprise_key = "
        "(SELECT min(enterprise_key) FROM registry)"
    )
    yield wh.con
    wh.close()


def _found(con: Any, q: str, limit: int = 4) -> list[str]:
    """Every page of the search's answer, following ``next``."""
    keys: list[str] = []
    cursor = None
    while True:
        page = search(ReadContext(con, LOCAL_ANALYST), q=q, cursor=cursor, limit=limit)
        keys += [r["enterprise_key"] for r in page["rows"]]
        cursor = page["next"]
        if cursor is None:
            return keys


def _expected(con: Any, q: str) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "SELECT enterprise_key FROM registry WHERE lower(name) LIKE '%' || lower(?) || '%' "
            "OR upper(uscc) LIKE upper(?) || '%' OR reg_no LIKE ? || '%' ORDER BY 1",
            [q, q, q],
        ).fetchall()
    ]


def test_search_matches_its_definition(con) -> None:  # type: ignore[no-untyped-def]
    name, uscc = con.execute(
        "SELECT name, uscc FROM registry WHERE uscc IS NOT NULL ORDER BY enterprise_key LIMIT 1"
    ).fetchall()[0]
    reg_no = con.execute("SELECT reg_no FROM registry WHERE reg_no IS NOT NULL LIMIT 1").fetchall()
    queries = [name[2:5], name[-4:], "abc科", "Abc", uscc[:8].lower(), uscc]
    queries += [reg_no[0][0][:6]] if reg_no else []
    for q in queries:
        want = _expected(con, q)
        assert want, q  # every query finds something, so the comparison means something
        assert _found(con, q) == want, q
    assert _found(con, "不存在的企业名称") == []
