"""Where the Ibis statistics run: DuckDB (default) or Spark.

Statistics are written once as Ibis expressions over *unbound* tables (a name and
a schema). An engine compiles them to its SQL dialect and runs that SQL itself:
on DuckDB on the warehouse connection (so refreshes happen inside the caller's
transaction, and Ibis's own DuckDB backend — broken on DuckDB 2.0 — is never
used), on Spark with ``spark.sql``. Multi-step work (penetration) materialises
intermediate results with ``materialize``: a TEMP table on DuckDB, a checkpointed
temp view on Spark.

Choose the engine with ``CROSSINVEST_ENGINE=spark`` or ``"stats_engine": "spark"``
in the home's settings.json; see docs/spark.md.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from typing import Any, Protocol, TypeAlias

import duckdb
import ibis
import ibis.expr.types as ir
from ibis.backends.sql.datatypes import DuckDBType

from crossinvest.analytics.sqlcache import cached_sql
from crossinvest.warehouse.connection import fetch_all, run

# An expression, or a function building it (so a cached compile skips building too).
ExprLike: TypeAlias = ir.Table | Callable[[], ir.Table]


def _expr(e: ExprLike) -> ir.Table:
    return e() if callable(e) else e


class Engine(Protocol):
    """What the statistics need from an execution engine."""

    dialect: str

    def table(self, name: str) -> ir.Table:
        """An unbound Ibis table for ``name`` with its schema."""

    def materialize(
        self, expr: ExprLike, name: str | None = None, key: str | None = None
    ) -> ir.Table:
        """Compute ``expr`` now into a temporary table; return it as a table.

        ``key`` names the compiled SQL for the cache (engines may ignore it).
        """

    def rows(self, expr: ExprLike, key: str | None = None) -> list[dict[str, Any]]:
        """Run ``expr`` and return its rows as dicts."""

    def count(self, table: ir.Table) -> int:
        """Number of rows of ``table``."""

    def drop(self, table: ir.Table) -> None:
        """Drop a table made by ``materialize``."""


_seq = itertools.count(1)


def temp_name(stem: str) -> str:
    return f"_an_{stem}_{os.getpid()}_{next(_seq)}"


class DuckDBEngine:
    """Run compiled Ibis SQL on a DuckDB connection (the warehouse)."""

    dialect = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        self._temps: list[str] = []
        self._schemas: dict[str, ir.Table] = {}

    def sql(self, expr: ExprLike, key: str | None = None) -> str:
        """Compiled SQL of ``expr``; with ``key``, compiled once and cached (sqlcache)."""
        if key is None:
            return str(ibis.to_sql(_expr(expr), dialect=self.dialect))
        return cached_sql(
            self.con, key, lambda: str(ibis.to_sql(_expr(expr), dialect=self.dialect))
        )

    def table(self, name: str) -> ir.Table:
        # A name keeps its schema for the life of an engine (one refresh or
        # answer): temp tables are always remade with the same columns.
        t = self._schemas.get(name)
        if t is None:
            cols = fetch_all(self.con, f'DESCRIBE "{name}"')
            t = ibis.table({c[0]: DuckDBType.from_string(c[1]) for c in cols}, name=name)
            self._schemas[name] = t
        return t

    def materialize(
        self, expr: ExprLike, name: str | None = None, key: str | None = None
    ) -> ir.Table:
        name = name or temp_name("t")
        run(self.con, f'CREATE OR REPLACE TEMP TABLE "{name}" AS {self.sql(expr, key)}')
        if name not in self._temps:
            self._temps.append(name)
        return self.table(name)

    def insert(
        self, expr: ExprLike, target: str, key: str | None = None, order_by: str | None = None
    ) -> None:
        """Append ``expr``'s rows to the warehouse table ``target`` (columns by name).

        ``order_by`` stores them in that order, so that DuckDB's per-row-group
        min/max skip the rest of the table when a query filters on those columns.
        """
        sql = self.sql(expr, key)
        if order_by:
            sql = f"SELECT * FROM ({sql}) ORDER BY {order_by}"
        run(self.con, f'INSERT INTO "{target}" BY NAME {sql}')

    def rows(self, expr: ExprLike, key: str | None = None) -> list[dict[str, Any]]:
        cur = run(self.con, self.sql(expr, key))
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def count(self, table: ir.Table) -> int:
        import ibis.expr.operations as ops

        if isinstance(table.op(), ops.UnboundTable):
            sql = f'SELECT count(*) FROM "{table.get_name()}"'
        else:
            sql = f"SELECT count(*) FROM ({self.sql(table)})"
        return int(fetch_all(self.con, sql)[0][0])

    def drop(self, table: ir.Table) -> None:
        name = table.get_name()
        run(self.con, f'DROP TABLE IF EXISTS "{name}"')
        if name in self._temps:
            self._temps.remove(name)

    def drop_all(self) -> None:
        """Drop every temp table this engine made."""
        for name in list(self._temps):
            run(self.con, f'DROP TABLE IF EXISTS "{name}"')
        self._temps.clear()


class SparkEngine:
    """Run compiled Ibis SQL on a Spark session; tables are temp views."""

    dialect = "pyspark"

    def __init__(self, spark: Any, scratch: str | None = None):
        # Touching the backend registers its compile options (ibis.options.pyspark).
        _ = ibis.pyspark
        self.spark = spark
        if scratch is None:
            import tempfile

            scratch = tempfile.mkdtemp(prefix="crossinvest-spark-")
        # Intermediate results (penetration levels); on a cluster, a folder every worker reaches.
        self.scratch = scratch

    def sql(self, expr: ExprLike, key: str | None = None) -> str:
        return str(ibis.to_sql(_expr(expr), dialect=self.dialect))

    def table(self, name: str) -> ir.Table:
        from ibis.backends.pyspark.datatypes import PySparkType

        fields = self.spark.table(name).schema.fields
        return ibis.table(
            {f.name: PySparkType.to_ibis(f.dataType, nullable=f.nullable) for f in fields},
            name=name,
        )

    def register_parquet(self, name: str, path: str) -> None:
        self.spark.read.parquet(path).createOrReplaceTempView(name)

    def materialize(
        self, expr: ExprLike, name: str | None = None, key: str | None = None
    ) -> ir.Table:
        name = name or temp_name("t")
        # Written out and read back: cuts the lineage (a 10-level loop would replan
        # everything), and avoids localCheckpoint, which fails on some self-joins.
        path = f"{self.scratch}/{name}"
        self.spark.sql(self.sql(expr)).write.mode("overwrite").parquet(path)
        self.spark.read.parquet(path).createOrReplaceTempView(name)
        return self.table(name)

    def rows(self, expr: ExprLike, key: str | None = None) -> list[dict[str, Any]]:
        return [r.asDict() for r in self.spark.sql(self.sql(expr)).collect()]

    def count(self, table: ir.Table) -> int:
        return int(self.spark.sql(self.sql(table)).count())

    def drop(self, table: ir.Table) -> None:
        self.spark.catalog.dropTempView(table.get_name())


def configured_engine_name(settings: dict | None = None) -> str:
    """``duckdb`` or ``spark``: CROSSINVEST_ENGINE wins over settings.json's ``stats_engine``."""
    name = os.environ.get("CROSSINVEST_ENGINE") or (settings or {}).get("stats_engine") or "duckdb"
    name = name.strip().lower()
    if name not in ("duckdb", "spark"):
        raise ValueError(f"未知统计引擎「{name}」：应为 duckdb 或 spark")
    return name


def spark_session(settings: dict | None = None) -> Any:
    """A Spark session for the configured master (CROSSINVEST_SPARK_MASTER / ``spark_master``).

    Extra Spark settings come from the ``spark_conf`` mapping in settings.json.
    """
    from pyspark.sql import SparkSession

    settings = settings or {}
    master = (
        os.environ.get("CROSSINVEST_SPARK_MASTER") or settings.get("spark_master") or "local[2]"
    )
    builder = SparkSession.builder.appName("crossinvest-stats").master(master)
    conf = {
        "spark.sql.shuffle.partitions": "8",
        "spark.ui.enabled": "false",
        "spark.sql.session.timeZone": "UTC",
    }
    conf.update(settings.get("spark_conf") or {})
    for k, v in conf.items():
        builder = builder.config(k, str(v))
    return builder.getOrCreate()
