"""Reference tables in the warehouse: ``ref_regions`` and ``ref_industries``."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from crossinvest.hooks import hookimpl
from crossinvest.reference.industries import industry_rows
from crossinvest.reference.regions import region_rows
from crossinvest.warehouse.connection import run
from crossinvest.warehouse.migrations import Migration


def refresh_reference(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)write the reference tables from the package's data; idempotent."""
    for table, rows in (("ref_regions", region_rows()), ("ref_industries", industry_rows())):
        arrow = pa.Table.from_pylist(rows)
        con.register("_ref_rows", arrow)
        try:
            run(con, f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM _ref_rows")
        finally:
            con.unregister("_ref_rows")


@hookimpl
def register_migrations() -> list[Migration]:
    return [Migration("reference.0001_tables", refresh_reference)]
