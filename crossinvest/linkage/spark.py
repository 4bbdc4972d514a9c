"""Scoring candidate pairs with Splink on Spark, for registries or batches beyond one machine.

Chosen by the setting ``link_engine: "spark"`` (or ``CROSSINVEST_LINK_ENGINE=spark``).
Only the scoring moves: the warehouse still builds the record and candidate
tables (inside the load's transaction), they go to Spark as Parquet, Splink's
``SparkAPI`` scores them with the same model, and the predictions come back as
a DuckDB temp table that the engine bands and writes as usual.

The Spark master is ``CROSSINVEST_SPARK_MASTER`` / ``spark_master`` (default
``local[2]``), extra configuration ``spark_conf``, as for the statistics
engine. The session carries Splink's similarity UDF jar (``jaro_winkler``); a
session created earlier without it cannot score the ``similar`` name level.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import duckdb

from crossinvest.warehouse.connection import run


def engine_name(settings: dict) -> str:
    """``duckdb`` or ``spark``: CROSSINVEST_LINK_ENGINE wins over settings.json's ``link_engine``."""
    name = (
        (os.environ.get("CROSSINVEST_LINK_ENGINE") or settings.get("link_engine") or "duckdb")
        .strip()
        .lower()
    )
    if name not in ("duckdb", "spark"):
        raise ValueError(f"未知关联引擎「{name}」：应为 duckdb 或 spark")
    return name


def spark_session(settings: dict) -> Any:
    """A Spark session with Splink's similarity functions registered."""
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    master = (
        os.environ.get("CROSSINVEST_SPARK_MASTER") or settings.get("spark_master") or "local[2]"
    )
    conf = {
        "spark.jars": similarity_jar_location(),
        "spark.sql.shuffle.partitions": "8",
        "spark.ui.enabled": "false",
        "spark.sql.session.timeZone": "UTC",
        **(settings.get("spark_conf") or {}),
    }
    builder = SparkSession.builder.appName("crossinvest").master(master)
    for k, v in conf.items():
        builder = builder.config(k, str(v))
    return builder.getOrCreate()


PREDICTION_COLUMNS = (
    "match_weight",
    "source_dataset_l",
    "source_dataset_r",
    "unique_id_l",
    "unique_id_r",
    "name_l",
    "name_r",
    "mw_name",
    "mw_region",
    "mw_id",
)


def predict(
    con: duckdb.DuckDBPyConnection,
    records: str,
    candidates: str,
    splink_settings,
    settings: dict,
    tmp: Path,
) -> str:
    """Score ``records`` x ``candidates`` (DuckDB tables) on Spark; return a DuckDB temp table of predictions."""
    from splink import Linker, SparkAPI

    work = Path(tmp) / f"lk_spark_{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True)
    out = f"lk_pred_{uuid.uuid4().hex[:8]}"
    try:
        for table, name in ((records, "records"), (candidates, "registry")):
            run(con, f"COPY {table} TO '{work / name}.parquet' (FORMAT parquet)")
        spark = spark_session(settings)
        # Splink breaks long lineages with checkpoints; they live and die with this run.
        spark.sparkContext.setCheckpointDir(str(work / "checkpoints"))
        api = SparkAPI(spark_session=spark)
        frames = [
            api.register(
                spark.read.parquet(str(work / f"{name}.parquet")), dataset_display_name=name
            )
            for name in ("records", "registry")
        ]
        pred = Linker(frames, splink_settings, log_level=None).inference.predict(
            warning_mode="never"
        )
        pred.as_spark_dataframe().select(*PREDICTION_COLUMNS).write.parquet(str(work / "pred"))
        if any((work / "pred").glob("*.parquet")):
            run(
                con,
                f"CREATE TEMP TABLE {out} AS SELECT * FROM read_parquet('{work / 'pred'}/*.parquet')",
            )
        else:  # no pair at all: Spark wrote no part file
            cols = ", ".join(
                f"NULL::{'DOUBLE' if c.startswith(('match', 'mw')) else 'VARCHAR'} AS {c}"
                for c in PREDICTION_COLUMNS
            )
            run(con, f"CREATE TEMP TABLE {out} AS SELECT {cols} WHERE false")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out
