"""The loader against generated deliveries: every planted defect is found, and only those.

The generator plants each deviation of data-interface.md at known rows and
writes them to its manifest; the loader is written separately. Agreement row
for row is the check.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossinvest.generate import generate
from crossinvest.warehouse.connection import connect
from crossinvest.warehouse.load import load_file

ORDER = ("registry", "shareholders", "tax", "stats")


@pytest.fixture(scope="module")
def delivery(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("gen")
    generate(out, enterprises=1500, seed=11, noise=True)
    manifest = json.loads((out / "truth" / "manifest.json").read_text(encoding="utf-8"))
    return out, manifest


def test_every_planted_defect_found_and_nothing_else(home, delivery):
    out, manifest = delivery
    files = sorted(manifest["files"].items(), key=lambda kv: ORDER.index(kv[1]["source"]))
    assert {info["source"] for _, info in files} == set(ORDER)
    with connect(home) as wh:
        for name, info in files:
            r = load_file(wh, info["source"], out / name)
            assert r.rows_read == info["rows"], name
            assert {x["row"] for x in r.rejects} == {b["row"] for b in info["bad_rows"]}, name
            assert r.rows_loaded == info["rows"] - len({b["row"] for b in info["bad_rows"]})
            warned = {
                row
                for (row,) in wh.con.execute(
                    "SELECT DISTINCT row_no FROM rejects WHERE batch_id = ? AND severity = 'warning'",
                    [r.batch],
                ).fetchall()
            }
            assert warned == {w["row"] for w in info.get("warning_rows", [])}, name


def test_formula_like_cells_are_data(home, delivery):
    out, manifest = delivery
    reg = next(n for n, i in manifest["files"].items() if i["source"] == "registry")
    with connect(home) as wh:
        load_file(wh, "registry", out / reg)
        n = wh.con.execute(
            "SELECT count(*) FROM registry WHERE regexp_matches(name, '^[=+@-]') OR regexp_matches(address, '^[=+@-]')"
        ).fetchone()[0]
    planted = manifest["files"][reg].get("formula_cells", [])
    assert planted and n >= 1


def test_reloading_every_file_is_a_noop(home, delivery):
    out, manifest = delivery
    with connect(home) as wh:
        for name, info in sorted(
            manifest["files"].items(), key=lambda kv: ORDER.index(kv[1]["source"])
        )[:2]:
            first = load_file(wh, info["source"], out / name)
            again = load_file(wh, info["source"], out / name)
            assert again.duplicate_file and again.batch == first.batch


def test_tax_and_stats_rows_are_stored_by_key_within_each_batch(home, delivery):
    """A profile reads one enterprise's tax rows by min/max skipping: each batch in key order.

    Also the migration that clusters a warehouse loaded before: same rows, key order.
    """
    from crossinvest.warehouse.lookups import ensure_indexes
    from crossinvest.warehouse.schema import _cluster_record_rows

    out, manifest = delivery
    tables = {"tax": ("tax_rows", "taxpayer_key"), "stats": ("stats_rows", "unit_key")}
    with connect(home) as wh:
        con = wh.con
        for name, info in sorted(manifest["files"].items()):
            if info["source"] in tables:
                load_file(wh, info["source"], out / name)

        def stored(table: str, key: str, order: str = "rowid") -> list[tuple]:
            return con.execute(f"SELECT batch_id, {key} FROM {table} ORDER BY {order}").fetchall()

        for table, key in tables.values():
            assert len({b for b, _ in stored(table, key)}) >= (2 if table == "tax_rows" else 1)
            assert stored(table, key, "batch_id, row_no") != sorted(stored(table, key)), table
            assert stored(table, key) == sorted(stored(table, key)), table
        # A warehouse loaded before the loader clustered: rows in file order.
        before = {}
        for table, key in tables.values():
            before[table] = con.execute(
                f"SELECT * FROM {table} ORDER BY batch_id, row_no"
            ).fetchall()
            con.execute(f"CREATE TEMP TABLE f AS SELECT * FROM {table} ORDER BY batch_id, row_no")
            con.execute(f"DELETE FROM {table}")
            con.execute(f"INSERT INTO {table} SELECT * FROM f ORDER BY batch_id, row_no")
            con.execute("DROP TABLE f")
            assert stored(table, key) != sorted(stored(table, key)), table
        con.execute("BEGIN TRANSACTION")
        _cluster_record_rows(con)
        con.execute("COMMIT")
        for table, key in tables.values():
            assert stored(table, key) == sorted(stored(table, key)), table
            after = con.execute(f"SELECT * FROM {table} ORDER BY batch_id, row_no").fetchall()
            assert after == before[table], table
        ensure_indexes(con)
        names = {r[0] for r in con.execute("SELECT index_name FROM duckdb_indexes()").fetchall()}
        assert {"ix_tax_rows_key", "ix_stats_rows_key"} <= names
