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
