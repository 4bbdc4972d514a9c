"""The Spark option scores like DuckDB: same links, same weights (one Spark start, ~30 s)."""

from __future__ import annotations

import json

import pytest

from crossinvest.config import Home
from crossinvest.linkage import synth
from crossinvest.warehouse.connection import connect
from tests.test_linkage import load


def _run(root, engine: str) -> dict:
    home = Home(root).ensure()
    home.settings_file.write_text(json.dumps({"link_engine": engine, "spark_master": "local[1]"}))
    with connect(home) as wh:
        synth.make_registry(wh.con, 1, 400, seed=3)
        load(wh.con, 1, "registry")
        synth.make_records(wh.con, "tax", 2, rows=150, n_enterprises=400, seed=3)
        load(wh.con, 2, "tax")
        rows = wh.con.execute(
            "SELECT record_key, enterprise_key, status, weight FROM record_links WHERE method = 'splink'"
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_spark_scores_like_duckdb(tmp_path):
    pytest.importorskip("pyspark")
    duck = _run(tmp_path / "duck", "duckdb")
    spark = _run(tmp_path / "spark", "spark")
    assert len(duck) > 50
    assert duck.keys() == spark.keys()
    for key, (ent, status, weight) in duck.items():
        assert spark[key][:2] == (ent, status)
        assert spark[key][2] == pytest.approx(weight, abs=1e-6)
