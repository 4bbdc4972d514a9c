"""The search's name index gives exactly the answers of reading every name, however fresh it is."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossinvest.warehouse import name_index
from crossinvest.warehouse.connection import connect
from crossinvest.warehouse.load import load_file
from crossinvest.warehouse.rollback import rollback_batch
from crossinvest.web.testing import demo_home
from tests.test_search import _found


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    w = connect(demo_home(tmp_path_factory.mktemp("names") / "home"))
    # Latin letters in one name, to search in another case.
    w.con.execute(
        "UPDATE registry_rows SET name = name || 'ABC科创' WHERE enterprise_key = "
        "(SELECT min(enterprise_key) FROM registry)"
    )
    yield w
    w.close()


def _expected(con: Any, q: str) -> list[str]:
    """The search's definition, written independently of both code paths."""
    return [
        r[0]
        for r in con.execute(
            "SELECT enterprise_key FROM registry WHERE lower(name) LIKE '%' || lower(?) || '%' "
            "OR (regexp_full_match(?, '[A-Za-z0-9]+') AND (upper(uscc) LIKE upper(?) || '%' "
            "OR reg_no LIKE ? || '%')) ORDER BY 1",
            [q, q, q, q],
        ).fetchall()
    ]


def _queries(con: Any) -> list[str]:
    names = [
        r[0]
        for r in con.execute(
            "SELECT name FROM registry WHERE name IS NOT NULL ORDER BY hash(enterprise_key) LIMIT 5"
        ).fetchall()
    ]
    uscc = con.execute("SELECT min(uscc) FROM registry").fetchall()[0][0]
    reg_no = con.execute("SELECT min(reg_no) FROM registry").fetchall()[0][0]
    qs = [n[2:4] for n in names] + [n[2:6] for n in names] + [n[-1] for n in names[:2]]
    qs += ["abc科", "Abc", "有限公司", uscc[:8].lower(), uscc, "不存在的企业名称", "礼礼礼"]
    return qs + ([reg_no[:6]] if reg_no else [])


def _rename_delivery(con: Any, path: Path, n: int, suffix: str) -> Path:
    """A registry re-delivery of ``n`` enterprises with a new name (the first by key)."""
    con.execute(
        f"""COPY (SELECT uscc AS 统一社会信用代码, reg_no AS 注册号, name || '{suffix}' AS 企业名称,
                   strftime(established_on, '%Y-%m-%d') AS 成立日期, region_code AS 住所所在行政区划,
                   industry_code AS 行业代码, status AS 登记状态
            FROM registry WHERE uscc IS NOT NULL ORDER BY enterprise_key LIMIT {n})
            TO '{path}' (HEADER, DELIMITER ',')"""
    )
    return path


def test_index_answers_as_reading_every_name(wh, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    con = wh.con
    queries = _queries(con)
    want = {q: _expected(con, q) for q in queries}
    # The comparisons mean something: all but the two made-up names find rows.
    assert [q for q, w in want.items() if not w] == ["不存在的企业名称", "礼礼礼"], want
    assert name_index.search(con, queries[0], columns="enterprise_key") is None  # not built: scan
    assert {q: _found(con, q, limit=25) for q in queries} == want

    assert name_index.refresh(con)["mode"] == "full"
    assert name_index.search(con, queries[0], columns="enterprise_key") is not None
    assert {q: _found(con, q) for q in queries} == want
    assert {q: _found(con, q, limit=50) for q in queries} == want

    # A delivery after the index: its rows are read directly until the next refresh.
    batch = load_file(wh, "registry", _rename_delivery(con, tmp_path / "r.csv", 3, "甲乙丙")).batch
    queries += ["甲乙丙", "乙丙"]
    want = {q: _expected(con, q) for q in queries}
    assert len(want["甲乙丙"]) == 3
    assert {q: _found(con, q, limit=25) for q in queries} == want
    assert name_index.refresh(con)["mode"] == "append"
    assert name_index.covered_batch(con) == batch
    assert {q: _found(con, q, limit=25) for q in queries} == want

    # Rolled back: its entries stay (stale) and the older names are current again.
    rollback_batch(wh, batch)
    want = {q: _expected(con, q) for q in queries}
    assert want["甲乙丙"] == []
    assert {q: _found(con, q, limit=25) for q in queries} == want
    assert name_index.refresh(con)["mode"] == "current"
    assert {q: _found(con, q, limit=25) for q in queries} == want


def test_too_many_candidates_falls_back_to_reading_every_name(wh, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    con = wh.con
    name_index.refresh(con)
    monkeypatch.setattr(name_index, "MAX_CANDIDATES", 1)
    monkeypatch.setattr(name_index, "FIRST_CHUNK_FACTOR", 0.05)
    # Every name shares 有限: candidates come a few at a time, some stale or out of
    # the cursor's range, so more than one round would be needed.
    q = "有限"
    assert name_index.search(con, q, columns="enterprise_key", limit=50) is None
    assert _found(con, q, limit=50) == _expected(con, q)


def _synthetic_registry(tmp_path: Path) -> Any:
    """60,000 names in one batch, every one with 上海, stored in no order (by name or key).

    Row groups of 2,048 rows, so that the index spans many and skipping them shows.
    """
    import duckdb

    con = duckdb.connect()
    con.execute(f"ATTACH '{tmp_path / 'names.duckdb'}' AS names (ROW_GROUP_SIZE 2048)")
    con.execute("USE names")
    con.execute(
        """CREATE TABLE registry_rows AS
           SELECT 1 AS batch_id, true AS is_current, 'K' || lpad(i::VARCHAR, 7, '0') AS enterprise_key,
                  NULL::VARCHAR AS uscc, NULL::VARCHAR AS reg_no, '上海' || chr((19968 + i % 3000)::INTEGER)
                  || chr((19968 + (i * 7919) % 3001)::INTEGER) || '贸易有限公司' AS name
           FROM range(60000) t(i) ORDER BY hash(i)"""
    )
    return con


def _row_groups(con: Any, sql: str, params: list[Any]) -> tuple[int, int]:
    """(row groups read, row groups in all) of the one table scan in ``sql``'s plan."""
    plan = con.execute(f"EXPLAIN ANALYZE {sql}", params).fetchall()[0][1]
    found = re.findall(r"Row Groups Scanned: (\d+) / (\d+)", plan)
    assert len(found) == 1, plan
    return int(found[0][0]), int(found[0][1])


def test_a_rare_fragment_reads_only_its_gram(tmp_path: Path) -> None:
    """The candidates of a rare gram come from a few row groups, not the whole index."""
    con = _synthetic_registry(tmp_path)
    # A warehouse from before the index's migration (opened read-only): search scans.
    assert name_index.search(con, "上海", columns="enterprise_key") is None
    name_index.create_tables(con)
    assert name_index.refresh(con)["mode"] == "full"
    q = con.execute(
        "SELECT substr(name, 3, 2) FROM registry_rows WHERE enterprise_key = 'K0012345'"
    ).fetchall()[0][0]
    g = name_index.gram_codes(q)[0]
    scanned, groups = _row_groups(
        con,
        "SELECT enterprise_key FROM name_grams WHERE g = ? AND enterprise_key > '' "
        "ORDER BY enterprise_key LIMIT 10",
        [g],
    )
    assert groups > 4 and scanned <= 2  # the index is several row groups; one or two are read
    rows = name_index.search(con, q, columns="enterprise_key, name")
    assert rows is not None
    want = con.execute(
        "SELECT enterprise_key FROM registry_rows WHERE contains(name, ?) ORDER BY 1 LIMIT 51", [q]
    ).fetchall()
    assert [r["enterprise_key"] for r in rows] == [w[0] for w in want] and "K0012345" in [
        w[0] for w in want
    ]


def test_a_character_in_every_name_reads_the_first_names_by_key(tmp_path: Path) -> None:
    """上 is in all names: the first by key come from the first row groups of the whole names."""
    con = _synthetic_registry(tmp_path)
    name_index.create_tables(con)
    name_index.refresh(con)
    # The whole names are stored in key order, so a top-N by key skips the rest.
    source = name_index._name_source(con, "上", 60_000)
    assert "contains(term" in source.sql  # the one-character path for a common character
    for after in ("", "K0030000"):
        scanned, groups = _row_groups(con, source.sql, [*source.params, after, 102])
        assert scanned <= 3 and groups > 100, (after, scanned, groups)
    for cursor in (None, "K0030000"):
        rows = name_index.search(con, "上", columns="enterprise_key", cursor=cursor)
        want = con.execute(
            "SELECT enterprise_key FROM registry_rows WHERE enterprise_key > ? ORDER BY 1 LIMIT 51",
            [cursor or ""],
        ).fetchall()
        assert rows is not None and [r["enterprise_key"] for r in rows] == [w[0] for w in want]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_fragment_of_any_name(wh, data) -> None:  # type: ignore[no-untyped-def]
    con = wh.con
    if name_index.covered_batch(con) is None:
        name_index.refresh(con)
    names = [
        r[0]
        for r in con.execute(
            "SELECT name FROM registry ORDER BY enterprise_key LIMIT 200"
        ).fetchall()
    ]
    name = data.draw(st.sampled_from(names))
    i = data.draw(st.integers(0, len(name) - 1))
    j = data.draw(st.integers(i + 1, len(name)))
    q = data.draw(st.sampled_from([name[i:j], name[i:j].upper(), name[i:j] + "x"]))
    if not q.strip():
        return
    assert _found(con, q.strip(), limit=7) == _expected(con, q.strip())


def test_the_server_builds_and_keeps_the_index(tmp_path: Path) -> None:
    from crossinvest.web.state import ServerState

    home = demo_home(tmp_path / "home")
    state = ServerState.open(home, inbox_interval=None)
    try:
        cur = state.cursor()

        def covered() -> int | None:
            deadline = time.time() + 60
            while time.time() < deadline:
                cur.execute("SELECT 1")  # a new statement sees the latest commit
                c = name_index.covered_batch(cur)
                top = cur.execute("SELECT max(batch_id) FROM registry_rows").fetchall()[0][0]
                if c is not None and c >= top and not state.writer.upkeep_running():
                    return c
                time.sleep(0.2)
            return name_index.covered_batch(cur)

        first = covered()
        assert first == cur.execute("SELECT max(batch_id) FROM registry_rows").fetchall()[0][0]
        job = state.writer.submit_load(
            "registry", _rename_delivery(cur, tmp_path / "r.csv", 2, "丁戊")
        )
        assert job.done.wait(60) and job.status == "done", job.error
        assert covered() == job.result["batch"]
        # Upkeep is not a load: the jobs list shows the load only.
        assert [j.kind for j in state.writer.jobs()] == ["load"]
        cur.close()
    finally:
        state.close()


def test_the_command_builds_appends_and_rebuilds(tmp_path: Path) -> None:
    import json

    from tests.conftest import run_cli

    home = demo_home(tmp_path / "home")
    modes = []
    for args in (["--json"], ["--json"], ["--rebuild", "--json"]):
        r = run_cli("name-index", *args, home=home, check=True)
        modes.append(json.loads(r.stdout)["mode"])
    assert modes == ["full", "current", "full"]
    r = run_cli("name-index", home=home, check=True)
    assert "名称索引已是最新" in r.stdout, r.stdout
