"""Engine parity: the same Ibis statistics on a local PySpark session and on DuckDB.

One small warehouse (holdings, a cross-holding cycle, persons, outbound, tax and
stats over two years) is exported to Parquet exactly as a Spark run exports it
(``analytics.spark``); every statistic below is then computed on Spark and
served from DuckDB's materialised tables, and must agree: counts exactly,
money within 1e-6 relative.
"""

from __future__ import annotations

import pytest

from crossinvest.analytics import query
from crossinvest.analytics.engine import spark_session
from crossinvest.analytics.spark import EXPORTS, prepare
from tests.test_analytics_world import World, mk_uscc

pytestmark = pytest.mark.spark

SH = [
    mk_uscc(d, i)
    for i, d in enumerate(["310115", "310104", "310112", "310106", "310103", "310115"], 1)
]
ZJ, JS, GD, BJ = (
    mk_uscc("330106", 50),
    mk_uscc("320505", 51),
    mk_uscc("440305", 52),
    mk_uscc("110108", 53),
)
OUT = [mk_uscc("653125", 60), mk_uscc("520302", 61), mk_uscc("330203", 62)]

CASES = [
    ("inbound", "2018", ["origin_province"], False, False),
    ("inbound", "2018", ["origin_province"], True, False),
    ("inbound", "2018", ["origin_province"], False, True),
    ("inbound", "2018Q3", ["origin_prefecture", "district"], False, False),
    ("inbound", "2018-07", ["industry_section"], False, False),
    ("inbound", "2017", ["district", "industry_division"], False, False),
    ("outbound", "2018", ["dest_province"], False, False),
    ("outbound", "2018", ["dest_province"], True, False),
    ("outbound", "2018Q4", ["dest_prefecture", "support_region"], False, False),
    ("outbound", "2018", ["district"], False, True),
]


@pytest.fixture(scope="session")
def spark():
    session = spark_session(
        {"spark_master": "local[2]", "spark_conf": {"spark.sql.shuffle.partitions": "2"}}
    )
    yield session
    session.stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("parity") / "home")
    for i, key in enumerate(SH):
        w.ent(
            key,
            region=key[2:8],
            capital=1000.0 + 100 * i,
            established="2018-05-20" if i == 5 else "2012-03-01",
            industry=["6513", "1310", "7212", "5111", "6620", "2710"][i],
            section=None,
        )
    w.holder(SH[0], "zj", uscc=ZJ, subscribed=300, share=0.3)
    w.holder(SH[0], "sh1", uscc=SH[1], subscribed=700, share=0.7)
    w.holder(SH[1], "js", uscc=JS, subscribed=550, share=0.5)
    w.holder(SH[1], "sh2", uscc=SH[2], subscribed=550, share=0.5)
    w.holder(SH[2], "sh1", uscc=SH[1], subscribed=600, share=0.5)  # cycle SH1 <-> SH2
    w.holder(SH[2], "gd", uscc=GD, subscribed=600, share=None)  # share from capital
    w.holder(SH[3], "p", person_division="330106", subscribed=1300, share=1.0)
    w.holder(SH[4], "bj", uscc=BJ, subscribed=700, share=0.5, region="110105")
    w.holder(SH[4], "p2", person_division="320505", subscribed=700, share=0.5)
    w.holder(SH[5], "zj", uscc=ZJ, subscribed=1500, share=1.0)
    for j, key in enumerate(OUT):
        w.ent(key, region=key[2:8], capital=200.0, industry="0111", section="A")
        w.holder(key, "sh", uscc=SH[j], subscribed=80.0 + j, share=0.4)
    w.holder(OUT[2], "js-holding", uscc=JS, subscribed=120, share=0.6)
    for i, key in enumerate(SH + OUT):
        for month, amount in (
            ("2017-12", 0.5),
            ("2018-02", 1.25),
            ("2018-07", 2.0 + i),
            ("2018-11", 3.5),
        ):
            w.tax(key, month, amount * (i + 1))
        w.stat(key, 2018, 100.0 * (i + 1), 10 * (i + 1))
    w.stat(SH[0], 2017, 77.0, 7)
    w.rebuild()
    yield w
    w.close()


@pytest.fixture(scope="module")
def spark_inputs(world, spark, tmp_path_factory):
    # The path `crossinvest stats --engine spark` takes: export, register, compute.
    run = prepare(world.con, tmp_path_factory.mktemp("parquet"), spark=spark)
    assert sorted(p.name for p in run.export_dir.glob("*.parquet")) == sorted(
        f"{t}.parquet" for t in EXPORTS
    )
    return run.engine, run.inputs


def _same(duck: dict, spark: dict) -> None:
    assert duck.keys() == spark.keys()
    for k, v in duck.items():
        if isinstance(v, float):
            assert spark[k] == pytest.approx(v, rel=1e-6, abs=1e-9), k
        else:
            assert spark[k] == v, k


@pytest.mark.parametrize(("kind", "period", "by", "pen", "persons"), CASES)
def test_spark_and_duckdb_agree(world, spark_inputs, kind, period, by, pen, persons):
    engine, inputs = spark_inputs
    duck = query.stats(world.con, kind, period, by, penetrate=pen, include_persons=persons)
    assert duck.served_from == "cube"
    sp = query.stats(
        world.con,
        kind,
        period,
        by,
        penetrate=pen,
        include_persons=persons,
        engine=engine,
        inputs=inputs,
    )
    assert duck.rows, "a parity case with no rows proves nothing"
    assert len(sp.rows) == len(duck.rows)
    for a, b in zip(duck.rows, sp.rows, strict=True):
        _same(a, b)
    _same(duck.total, sp.total)
