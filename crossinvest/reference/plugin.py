"""Reference tables in the warehouse: ``ref_regions`` and ``ref_industries``.

Both are rewritten from the package's data by ``refresh_reference`` (so a
package upgrade with a newer python-stdnum ``loc.dat`` or a corrected GB/T 4754
table only needs that call), and created by the migration
``0002_reference_tables``.

``ref_regions`` (one row per code, historical codes included):
    code VARCHAR            6-digit GB/T 2260 code, plus 100000 「国家级登记」
    name VARCHAR            latest name (卢湾区 for 310103)
    level VARCHAR           'national' | 'province' | 'prefecture' | 'county'
    province_code/_name     XX0000 and its name (100000 is its own province)
    prefecture_code/_name   XXXX00 and its name; the municipality itself for
                            11/12/31/50 (310115 -> 310000 上海市); NULL for provinces
    county_name VARCHAR     name for county-level rows, else NULL
    full_name VARCHAR       e.g. 新疆维吾尔自治区喀什地区莎车县
    former_names VARCHAR[]  earlier names of the same code (120110: [东郊区])
    valid_from, valid_to    years from loc.dat; NULL = before records / still valid
    is_current BOOLEAN      valid_to IS NULL
    domestic BOOLEAN        false for 71 台湾省, 81 香港, 82 澳门 (and their codes)

``ref_industries`` (GB/T 4754-2017): level (门类/大类/中类/小类), section,
code (4/3/2 digits; the letter for 门类), name, division_code, division_name,
section_name.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from crossinvest.hooks import hookimpl
from crossinvest.reference.industries import industry_rows
from crossinvest.reference.regions import region_rows
from crossinvest.warehouse.connection import run
from crossinvest.warehouse.migrations import Migration

REGION_COLUMNS: dict[str, pa.DataType] = {
    "code": pa.string(),
    "name": pa.string(),
    "level": pa.string(),
    "province_code": pa.string(),
    "province_name": pa.string(),
    "prefecture_code": pa.string(),
    "prefecture_name": pa.string(),
    "county_name": pa.string(),
    "full_name": pa.string(),
    "former_names": pa.list_(pa.string()),
    "valid_from": pa.int32(),
    "valid_to": pa.int32(),
    "is_current": pa.bool_(),
    "domestic": pa.bool_(),
}
INDUSTRY_COLUMNS: dict[str, pa.DataType] = {
    "level": pa.string(),
    "section": pa.string(),
    "code": pa.string(),
    "name": pa.string(),
    "division_code": pa.string(),
    "division_name": pa.string(),
    "section_name": pa.string(),
}


def _write(
    con: duckdb.DuckDBPyConnection, table: str, rows: list[dict], columns: dict[str, pa.DataType]
) -> None:
    data = pa.Table.from_pylist(rows, schema=pa.schema(list(columns.items())))
    view = f"_ci_src_{table}"
    con.register(view, data)
    try:
        # One statement: the table is replaced atomically even outside a transaction.
        run(con, f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {view} ORDER BY code")
    finally:
        con.unregister(view)


def refresh_reference(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)write ``ref_regions`` and ``ref_industries`` from the package's data; idempotent.

    Each table is replaced in one statement; wrap the call in
    ``warehouse.connection.transaction`` to replace both at once.
    """
    _write(con, "ref_regions", region_rows(), REGION_COLUMNS)
    _write(con, "ref_industries", industry_rows(), INDUSTRY_COLUMNS)


@hookimpl
def register_migrations() -> list[Migration]:
    # CREATE OR REPLACE also upgrades warehouses made with the earlier stand-in
    # migration 'reference.0001_tables' (same tables, fewer columns).
    return [Migration("0002_reference_tables", refresh_reference)]
