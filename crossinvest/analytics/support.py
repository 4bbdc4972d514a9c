"""Counterpart-support regions (对口支援 / 东西部协作): a maintained, versioned table.

Every edit (add, remove) makes a new version; rows carry the version range they
belong to (``version_from`` inclusive, ``version_to`` exclusive, NULL = current),
so any earlier list can be shown again. Business validity (when the pairing
started or ended) is separate: ``valid_from``/``valid_to``, and the statistics use
a region for a period only when the pairing was valid at its reference date.

The package seeds version 1 from ``crossinvest/data/support_regions.csv``.
Functions here run inside the caller's transaction (the CLI wraps each edit in
one); they do not commit.

>>> # list_support_regions(con)[0]["region_code"]  ->  '653125'
"""

from __future__ import annotations

import csv
import re
from datetime import date
from importlib import resources

import duckdb

from crossinvest.analytics.lookups import refresh_support_lookup
from crossinvest.warehouse.connection import fetch_dicts, fetch_one, run

SUPPORT_DDL = """
CREATE TABLE IF NOT EXISTS support_regions (
    region_code VARCHAR NOT NULL,
    region_name VARCHAR NOT NULL,
    level VARCHAR NOT NULL,             -- 'county' or 'prefecture'
    program VARCHAR NOT NULL,           -- 对口支援新疆, 东西部协作, …
    area VARCHAR,
    partner_district_code VARCHAR,      -- the Shanghai district paired with it, if known
    partner_district_name VARCHAR,
    valid_from DATE,
    valid_to DATE,
    historical_codes VARCHAR,           -- earlier GB/T 2260 codes, ';'-separated
    verified BOOLEAN NOT NULL,          -- false: an example an administrator must confirm
    note VARCHAR,
    version_from INTEGER NOT NULL,
    version_to INTEGER
);
CREATE TABLE IF NOT EXISTS support_region_versions (
    version INTEGER PRIMARY KEY,
    changed_at TIMESTAMP NOT NULL,
    action VARCHAR NOT NULL,            -- seed, add, remove
    region_code VARCHAR,
    actor VARCHAR,
    note VARCHAR
);
"""

COLUMNS = (
    "region_code",
    "region_name",
    "level",
    "program",
    "area",
    "partner_district_code",
    "partner_district_name",
    "valid_from",
    "valid_to",
    "historical_codes",
    "verified",
    "note",
)


class SupportRegionError(ValueError):
    """An edit that cannot be made (message in Chinese)."""


def seed_rows() -> list[dict]:
    """The packaged seed list, as dicts with typed values."""
    text = resources.files("crossinvest.data").joinpath("support_regions.csv").read_text("utf-8")
    rows = []
    for r in csv.DictReader(text.splitlines()):
        rows.append(
            {
                **{k: (r[k] or None) for k in COLUMNS},
                "valid_from": date.fromisoformat(r["valid_from"]) if r["valid_from"] else None,
                "valid_to": date.fromisoformat(r["valid_to"]) if r["valid_to"] else None,
                "verified": r["verified"].strip().lower() == "yes",
            }
        )
    return rows


def create_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Migration: the two tables, seeded as version 1."""
    run(con, SUPPORT_DDL)
    _new_version(con, "seed", None, "system", "初始名单（crossinvest/data/support_regions.csv）")
    for row in seed_rows():
        _insert(con, row, 1)


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    row = fetch_one(con, "SELECT coalesce(max(version), 0) FROM support_region_versions")
    return int(row[0]) if row else 0


def list_support_regions(con: duckdb.DuckDBPyConnection, version: int | None = None) -> list[dict]:
    """The support regions of ``version`` (default: the current one), ordered by code."""
    v = current_version(con) if version is None else version
    return fetch_dicts(
        con,
        f"""
        SELECT {", ".join(COLUMNS)}, version_from
        FROM support_regions
        WHERE version_from <= ? AND (version_to IS NULL OR version_to > ?)
        ORDER BY region_code
        """,
        [v, v],
    )


def history(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Every version: when, what, by whom."""
    return fetch_dicts(con, "SELECT * FROM support_region_versions ORDER BY version")


def add_support_region(
    con: duckdb.DuckDBPyConnection,
    region_code: str,
    program: str,
    *,
    level: str | None = None,
    region_name: str | None = None,
    area: str | None = None,
    partner_district_code: str | None = None,
    valid_from: date | None = None,
    valid_to: date | None = None,
    historical_codes: str | None = None,
    verified: bool = True,
    note: str | None = None,
    actor: str | None = None,
) -> int:
    """Add a region (a new version); return the version number.

    The code must be a GB/T 2260 code known to the warehouse; the name defaults to
    the code's name, the level to 'prefecture' for an ``XXXX00`` code.
    """
    code = (region_code or "").strip()
    if not re.fullmatch(r"\d{6}", code):
        raise SupportRegionError(f"行政区划代码格式错误「{region_code}」：应为 6 位数字")
    known = fetch_one(con, "SELECT name FROM an_region_lookup WHERE code = ?", [code])
    if known is None:
        raise SupportRegionError(f"行政区划代码「{code}」不在 GB/T 2260 代码表中")
    if fetch_one(
        con, "SELECT 1 FROM support_regions WHERE region_code = ? AND version_to IS NULL", [code]
    ):
        raise SupportRegionError(f"对口支援地区「{code}」已在现行名单中；如需修改请先删除")
    level = level or ("prefecture" if code.endswith("00") else "county")
    if level not in ("county", "prefecture"):
        raise SupportRegionError(f"层级「{level}」错误：应为 county 或 prefecture")
    partner_name = None
    if partner_district_code:
        p = fetch_one(
            con, "SELECT name FROM an_region_lookup WHERE code = ?", [partner_district_code]
        )
        if p is None or not partner_district_code.startswith("31"):
            raise SupportRegionError(f"结对区代码「{partner_district_code}」不是上海的区")
        partner_name = p[0]
    v = _new_version(con, "add", code, actor, note)
    _insert(
        con,
        {
            "region_code": code,
            "region_name": region_name or known[0],
            "level": level,
            "program": program,
            "area": area,
            "partner_district_code": partner_district_code,
            "partner_district_name": partner_name,
            "valid_from": valid_from,
            "valid_to": valid_to,
            "historical_codes": historical_codes,
            "verified": verified,
            "note": note,
        },
        v,
    )
    refresh_support_lookup(con)
    return v


def remove_support_region(
    con: duckdb.DuckDBPyConnection,
    region_code: str,
    *,
    note: str | None = None,
    actor: str | None = None,
) -> int:
    """Remove a region from the current list (a new version); return the version number."""
    code = (region_code or "").strip()
    if not fetch_one(
        con, "SELECT 1 FROM support_regions WHERE region_code = ? AND version_to IS NULL", [code]
    ):
        raise SupportRegionError(f"对口支援地区「{code}」不在现行名单中")
    v = _new_version(con, "remove", code, actor, note)
    run(
        con,
        "UPDATE support_regions SET version_to = ? WHERE region_code = ? AND version_to IS NULL",
        [v, code],
    )
    refresh_support_lookup(con)
    return v


def _new_version(
    con: duckdb.DuckDBPyConnection,
    action: str,
    code: str | None,
    actor: str | None,
    note: str | None,
) -> int:
    v = current_version(con) + 1
    run(
        con,
        "INSERT INTO support_region_versions VALUES (?, now(), ?, ?, ?, ?)",
        [v, action, code, actor, note],
    )
    return v


def _insert(con: duckdb.DuckDBPyConnection, row: dict, version: int) -> None:
    run(
        con,
        f"INSERT INTO support_regions ({', '.join(COLUMNS)}, version_from, version_to) "
        f"VALUES ({', '.join('?' for _ in COLUMNS)}, ?, NULL)",
        [row.get(c) for c in COLUMNS] + [version],
    )
