"""Per-enterprise reads through the indexes: the same rows as the warehouse views, read by index."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crossinvest.analytics.tables import LOOKUP_INDEXES
from crossinvest.warehouse.connection import connect, fetch_dicts
from crossinvest.warehouse.lookups import BASE_INDEXES, by_keys, fetch_by_keys, linked_records
from crossinvest.web.testing import demo_home


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    home = demo_home(tmp_path_factory.mktemp("lookups") / "home")
    wh = connect(home)
    yield wh.con
    wh.close()


def _plan(con: Any, sql: str, params: list[Any]) -> str:
    # DuckDB picks the index when the scan starts: only the executed plan shows it.
    return "\n".join(str(r[1]) for r in con.execute("EXPLAIN ANALYZE " + sql, params).fetchall())


@pytest.mark.parametrize("name", sorted({**BASE_INDEXES, **LOOKUP_INDEXES}))
def test_every_lookup_index_exists_and_is_used(con, name: str) -> None:  # type: ignore[no-untyped-def]
    table, column = {**BASE_INDEXES, **LOOKUP_INDEXES}[name]
    names = {r[0] for r in con.execute("SELECT index_name FROM duckdb_indexes()").fetchall()}
    assert name in names
    key = con.execute(f'SELECT "{column}" FROM "{table}" LIMIT 1').fetchall()
    keys = [key[0][0] if key else "none"] * 2
    sql = f"WITH k AS MATERIALIZED ({by_keys(table, column, 2)}) SELECT * FROM k WHERE TRUE"
    assert "Type: Index Scan" in _plan(con, sql, keys)


def _normal(rows: list[dict[str, Any]]) -> list[tuple]:
    return sorted(tuple(sorted((k, str(v)) for k, v in r.items())) for r in rows)


def test_linked_records_equal_the_linked_views(con) -> None:  # type: ignore[no-untyped-def]
    # Make the hard cases exist: a record whose own USCC is registered to another
    # enterprise, linked here by hand (the USCC wins), and a link still in review.
    a, b = con.execute(
        "SELECT enterprise_key FROM registry WHERE uscc IS NOT NULL AND uscc IN "
        "(SELECT taxpayer_uscc FROM tax) ORDER BY 1 LIMIT 2"
    ).fetchall()
    con.execute(
        "INSERT INTO record_links (source, record_key, enterprise_key, method, status) VALUES "
        "('tax', ?, ?, 'manual', 'accepted'), ('stats', ?, ?, 'manual', 'review')",
        [a[0], b[0], a[0], b[0]],
    )
    keys = [
        r[0]
        for r in con.execute(
            """SELECT enterprise_key FROM (
                   SELECT DISTINCT enterprise_key FROM record_links
                   UNION SELECT enterprise_key FROM registry USING SAMPLE 60 ROWS
               ) ORDER BY 1"""
        ).fetchall()
    ]
    assert len(keys) > 60
    linked_seen = 0
    for key in keys:
        uscc = con.execute("SELECT uscc FROM registry WHERE enterprise_key = ?", [key]).fetchall()
        u = uscc[0][0] if uscc else None
        for source in ("tax", "stats"):
            want = fetch_dicts(
                con, f"SELECT * FROM {source}_linked WHERE enterprise_key = ?", [key]
            )
            got = linked_records(con, source, key, u)
            assert _normal(got) == _normal(want), (source, key)
            linked_seen += sum(1 for r in want if r["link_method"] != "uscc")
    assert linked_seen > 0  # links other than by USCC were compared too


def test_fetch_by_keys_filters_after_the_lookup(con) -> None:  # type: ignore[no-untyped-def]
    rows = con.execute(
        "SELECT enterprise_key FROM registry_rows WHERE NOT is_current LIMIT 1"
    ).fetchall()
    current = con.execute("SELECT enterprise_key FROM registry LIMIT 3").fetchall()
    keys = [r[0] for r in rows + current]
    got = fetch_by_keys(con, "registry_rows", "enterprise_key", keys, where="k.is_current")
    want = fetch_dicts(
        con,
        f"SELECT * FROM registry WHERE enterprise_key IN ({', '.join('?' for _ in keys)})",
        keys,
    )
    assert _normal(got) == _normal(want) and len(want) >= 3
    assert fetch_by_keys(con, "registry_rows", "enterprise_key", []) == []


def test_the_profile_reads_the_warehouse_views_figures(con, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from crossinvest.analytics.profile import enterprise_profile

    key = con.execute(
        "SELECT enterprise_key FROM tax_linked GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
    ).fetchall()[0][0]
    prof = enterprise_profile(con, key)
    want = con.execute(
        "SELECT strftime(period, '%Y-%m'), sum(tax_paid_wan) FROM tax_linked WHERE enterprise_key = ? "
        "GROUP BY 1 ORDER BY 1",
        [key],
    ).fetchall()
    got = [(m["month"], m["tax_wan"]) for m in prof["tax_by_month"]]
    assert [g[0] for g in got] == [w[0] for w in want]
    assert all(
        abs(g[1] - w[1]) <= 1e-9 * max(1.0, abs(w[1])) for g, w in zip(got, want, strict=True)
    )
    investors = con.execute(
        "SELECT count(*) FROM shareholders WHERE enterprise_uscc = ?", [prof["enterprise"]["uscc"]]
    ).fetchall()[0][0]
    assert len(prof["investors"]) == investors


def test_a_rebuild_drops_the_statistics_indexes_and_ensure_builds_them(con) -> None:  # type: ignore[no-untyped-def]
    from crossinvest.analytics.materialize import rebuild_all
    from crossinvest.warehouse.connection import transaction
    from crossinvest.warehouse.lookups import ensure_indexes

    def names() -> set[str]:
        return {r[0] for r in con.execute("SELECT index_name FROM duckdb_indexes()").fetchall()}

    with transaction(con):
        rebuild_all(con)
    assert not set(LOOKUP_INDEXES) & names()
    assert set(BASE_INDEXES) <= names()
    assert sorted(ensure_indexes(con)) == sorted(LOOKUP_INDEXES)
    assert set(LOOKUP_INDEXES) <= names() and ensure_indexes(con) == []


def test_only_a_bulk_load_drops_its_tables_indexes(con) -> None:  # type: ignore[no-untyped-def]
    from crossinvest.warehouse.lookups import BULK_SHARE, drop_indexes_for_bulk

    rows = con.execute("SELECT count(*) FROM registry_rows").fetchall()[0][0]
    con.execute("BEGIN")
    try:
        assert drop_indexes_for_bulk(con, "registry_rows", int(rows * BULK_SHARE) - 1) == []
        assert drop_indexes_for_bulk(con, "registry_rows", rows) == ["ix_registry_rows_key"]
        left = {r[0] for r in con.execute("SELECT index_name FROM duckdb_indexes()").fetchall()}
        assert "ix_registry_rows_key" not in left and "ix_tax_rows_key" in left
    finally:
        con.execute("ROLLBACK")


@pytest.mark.parametrize(
    "table,key",
    [("tax_rows", "taxpayer_key, period, tax_type_key"), ("stats_rows", "unit_key, year")],
)
def test_replaced_rows_keep_their_period_among_current_rows(con, table: str, key: str) -> None:  # type: ignore[no-untyped-def]
    """What latest_year relies on to read all rows without the is_current filter."""
    from crossinvest.access.actor import LOCAL_ANALYST
    from crossinvest.access.gate import ReadContext
    from crossinvest.web.datasets.stats import latest_year

    replaced, orphans = con.execute(
        f"""SELECT count(*), count(*) FILTER (WHERE ({key}) NOT IN (SELECT ({key}) FROM {table} WHERE is_current))
            FROM {table} WHERE NOT is_current"""
    ).fetchall()[0]
    assert replaced > 0 and orphans == 0  # the generated deliveries repeat and correct rows
    want = con.execute(
        "SELECT greatest((SELECT max(year(period)) FROM tax), (SELECT max(year) FROM stats))"
    ).fetchall()[0][0]
    assert latest_year(ReadContext(con, LOCAL_ANALYST)) == want


def test_an_index_that_cannot_be_built_does_not_stop_the_others(
    con, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    from crossinvest.warehouse import lookups

    con.execute('DROP INDEX "ix_stats_rows_key"')
    wanted = {"ix_broken": ("stats_rows", "no_such_column"), **lookups.BASE_INDEXES}
    monkeypatch.setattr(lookups, "all_indexes", lambda: wanted)
    assert lookups.ensure_indexes(con) == ["ix_stats_rows_key"]
    assert "ix_broken" in caplog.text


def test_indexes_beyond_the_memory_budget_are_not_kept(
    con, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from crossinvest.warehouse import lookups

    def names() -> set[str]:
        return {r[0] for r in con.execute("SELECT index_name FROM duckdb_indexes()").fetchall()}

    lookups.ensure_indexes(con)
    everything = set(lookups.all_indexes())
    assert everything <= names()
    # A budget for the registry's keys only: the bigger tables' indexes go.
    rows = con.execute(
        "SELECT estimated_size FROM duckdb_tables() WHERE table_name = 'registry_rows'"
    )
    need = lookups.BYTES_PER_KEY * rows.fetchall()[0][0]
    monkeypatch.setattr(lookups, "BUDGET_SHARE", need / lookups.memory_limit_bytes(con))
    assert lookups.ensure_indexes(con) == []
    kept = names() & everything
    assert "ix_registry_rows_key" in kept and "ix_tax_rows_key" not in kept
    monkeypatch.undo()
    assert set(lookups.ensure_indexes(con)) == everything - kept


def test_origin_rows_are_the_enterprises_rows(con) -> None:  # type: ignore[no-untyped-def]
    from crossinvest.analytics.tables import (
        ORIGIN_EQUALITIES_UP_TO,
        origin_rows,
        origin_rows_params,
    )

    keys = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT enterprise_uscc FROM investor_origins ORDER BY 1 LIMIT 3"
        ).fetchall()
    ]
    keys.append("no such enterprise")
    many = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT enterprise_uscc FROM investor_origins ORDER BY 1 DESC LIMIT ?",
            [ORIGIN_EQUALITIES_UP_TO + 4],
        ).fetchall()
    ]
    assert len(many) > ORIGIN_EQUALITIES_UP_TO  # the IN-list form as well as the equalities
    for ks in (keys, many):
        got = fetch_dicts(con, origin_rows(len(ks)), origin_rows_params(ks))
        want = fetch_dicts(
            con, "SELECT * FROM investor_origins WHERE enterprise_uscc IN (SELECT unnest(?))", [ks]
        )
        assert got and _normal(got) == _normal(want)
    assert con.execute(
        "SELECT count(*) FROM investor_origins WHERE eh IS DISTINCT FROM hash(enterprise_uscc)"
    ).fetchone() == (0,)


def test_origin_rows_skip_row_groups_when_stored_by_hash() -> None:
    """The premise of ``origin_rows``: an IN filter on the sorted hash prunes row groups.

    Checked on DuckDB itself (a table of 40 row groups), since a DuckDB upgrade
    could change it; the demo warehouse is too small to have more than one.
    """
    import duckdb

    from crossinvest.analytics.tables import origin_rows, origin_rows_params

    c = duckdb.connect()
    c.execute(
        "CREATE TABLE investor_origins AS SELECT * FROM (SELECT 'E' || (i // 5) AS enterprise_uscc, i AS v, "
        "hash('E' || (i // 5)) AS eh FROM range(40 * 122880) t(i)) ORDER BY eh"
    )
    import re

    for keys in (["E17", "E400000", "E900000"], [f"E{i * 40_000 + 17}" for i in range(20)]):
        sql, params = origin_rows(len(keys), "enterprise_uscc, v"), origin_rows_params(keys)
        # Each enterprise's rows are in one row group (rarely two): the equalities read
        # those, the IN list (beyond ORIGIN_EQUALITIES_UP_TO) those it keeps by min/max.
        scanned = [
            (int(a), int(b))
            for a, b in re.findall(r"Row Groups Scanned: (\d+) / (\d+)", _plan(c, sql, params))
        ]
        assert scanned and all(total >= 40 for _, total in scanned), scanned
        assert sum(read for read, _ in scanned) <= len(keys) + 1, scanned
        rows = c.execute(sql, params).fetchall()
        assert sorted(r[1] for r in rows) == sorted(
            int(k[1:]) * 5 + j for k in keys for j in range(5)
        )


def test_penetrated_origins_skip_the_direct_rows_and_other_keys() -> None:
    """The premise of the profile's ``PENETRATED_SQL`` on DuckDB itself.

    an_groups as the rebuild stores it: direct rows by kind, origin and key (each
    row group spans the whole key range), then penetrated rows in key order; and
    its copy by key. Read from the copy, the key must let DuckDB skip all row
    groups but the one or two holding it.
    """
    import re

    import duckdb

    from crossinvest.analytics.profile import PENETRATED_SQL

    c = duckdb.connect()
    c.execute(
        "CREATE TABLE an_region_lookup (code VARCHAR, name VARCHAR, province_code VARCHAR, province_name VARCHAR)"
    )
    n = 20 * 122880
    c.execute(
        f"""CREATE TABLE an_groups AS
            SELECT * FROM (
                SELECT 'inbound' AS kind, 'E' || lpad((i % {n // 40} * 10)::VARCHAR, 8, '0') AS enterprise_key,
                       'O' || (i // ({n // 40}))::VARCHAR AS origin_code, false AS via_person, false AS penetrate,
                       1.0 AS investment_wan, 0.5 AS share
                FROM range({n}) t(i)
                ORDER BY kind, origin_code, enterprise_key)
            UNION ALL
            SELECT * FROM (
                SELECT 'inbound', 'E' || lpad((i // 4)::VARCHAR, 8, '0'), 'P' || (i % 4)::VARCHAR,
                       false, true, 2.0, 0.25
                FROM range({n}) t(i)
                ORDER BY 2)"""
    )
    c.execute("CREATE TABLE an_groups_by_key AS SELECT * FROM an_groups ORDER BY enterprise_key")
    key = "E" + str(n // 8).rjust(8, "0")
    plan = "\n".join(
        str(r[1]) for r in c.execute("EXPLAIN ANALYZE " + PENETRATED_SQL, [key]).fetchall()
    )
    scanned = re.search(r"Row Groups Scanned: (\d+) / (\d+)", plan)
    assert scanned, plan
    assert int(scanned.group(2)) >= 40 and int(scanned.group(1)) <= 2, scanned.group()
    assert "an_groups_by_key" in PENETRATED_SQL
    rows = c.execute(PENETRATED_SQL, [key]).fetchall()
    assert [r[1] for r in rows] == ["P0", "P1", "P2", "P3"]
