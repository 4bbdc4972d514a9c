"""Running the statistics on Spark: export the inputs to Parquet, run the same Ibis statistics.

The warehouse stays DuckDB. For a Spark run, the tables the statistics read
(current registry and shareholder rows, linked tax and stats, the resolved
lookups) are written to Parquet under an export folder every Spark worker can
read (``spark_export_dir`` in settings.json; by default the home's tmp/), then
registered as temp views under the same names, and the Ibis expressions are
compiled to Spark SQL. Answers are computed live there; the materialised
tables and every served answer stay on DuckDB. See docs/spark.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from crossinvest.analytics.engine import SparkEngine, spark_session
from crossinvest.analytics.materialize import Inputs
from crossinvest.warehouse.connection import run

# Table -> columns the statistics read (only these are exported).
EXPORTS: dict[str, str] = {
    "registry": "enterprise_key, uscc, reg_no, region_code, industry_code, industry_section, established_on, "
    "status, deregistered_on, registered_capital_wan",
    "shareholders": "*",
    "tax_linked": "enterprise_key, period, tax_type, tax_paid_wan",
    "stats_linked": "enterprise_key, year, employees, revenue_wan",
    "an_region_lookup": "*",
    "an_industry_lookup": "*",
    "an_support_lookup": "*",
}


@dataclass
class SparkRun:
    engine: SparkEngine
    inputs: Inputs
    export_dir: Path
    export_s: float


def export_inputs(con: duckdb.DuckDBPyConnection, export_dir: Path) -> Path:
    """Write the statistics' inputs as Parquet files ``<export_dir>/<table>.parquet``."""
    export_dir.mkdir(parents=True, exist_ok=True)
    for table, cols in EXPORTS.items():
        path = export_dir / f"{table}.parquet"
        select = f"SELECT {cols} FROM {table}"
        if table == "shareholders":
            # Never export what only identifies persons.
            select = "SELECT * EXCLUDE (person_id_hash) FROM shareholders"
        run(con, f"COPY ({select}) TO '{path}' (FORMAT parquet)")
    return export_dir


def register_inputs(engine: SparkEngine, export_dir: Path) -> Inputs:
    """Register the exported Parquet files as Spark temp views; return them as Ibis tables."""
    for table in EXPORTS:
        engine.register_parquet(table, str(export_dir / f"{table}.parquet"))
    return Inputs(
        registry=engine.table("registry"),
        shareholders=engine.table("shareholders"),
        tax_linked=engine.table("tax_linked"),
        stats_linked=engine.table("stats_linked"),
        regions=engine.table("an_region_lookup"),
        industries=engine.table("an_industry_lookup"),
        support=engine.table("an_support_lookup"),
    )


def prepare(
    con: duckdb.DuckDBPyConnection,
    export_dir: Path,
    spark: Any = None,
    settings: dict | None = None,
) -> SparkRun:
    """Export the warehouse's inputs and make them Spark tables (session from settings if not given)."""
    t0 = time.perf_counter()
    export_inputs(con, export_dir)
    dt = time.perf_counter() - t0
    engine = SparkEngine(spark or spark_session(settings), scratch=str(export_dir / "scratch"))
    return SparkRun(engine, register_inputs(engine, export_dir), export_dir, dt)
