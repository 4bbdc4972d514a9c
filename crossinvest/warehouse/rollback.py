"""Undoing one load: its rows go, the versions it superseded come back.

The batch row stays, marked ``rolled_back`` (with its rejects, for the
record); the archived file stays, so the delivery can be loaded again.
"""

from __future__ import annotations

import uuid
from typing import Any

from crossinvest.plugins import get_plugin_manager
from crossinvest.sources import SOURCES
from crossinvest.warehouse.batches import Batch
from crossinvest.warehouse.connection import Warehouse, fetch_one, run, transaction
from crossinvest.warehouse.freshness import refresh_freshness
from crossinvest.warehouse.keys import reelect_current
from crossinvest.warehouse.lookups import ensure_indexes


class BatchNotFound(LookupError):
    """No loaded batch with that id."""


def rollback_batch(wh: Warehouse, batch_id: int) -> dict[str, Any]:
    """Undo batch ``batch_id`` in one transaction; every figure returns to before it."""
    con = wh.con
    row = fetch_one(
        con, "SELECT source, file_name, sha256, status FROM batches WHERE batch_id = ?", [batch_id]
    )
    if row is None:
        raise BatchNotFound(f"批次 {batch_id} 不存在；用 crossinvest batches 查看所有批次。")
    source_name, file_name, digest, status = row
    if status != "loaded":
        raise BatchNotFound(f"批次 {batch_id} 已于之前撤销（状态 {status}）。")
    source = SOURCES[source_name]
    affected = f"affected_{uuid.uuid4().hex[:8]}"
    keys = ", ".join(source.key)
    with transaction(con):
        run(
            con,
            f"CREATE TEMP TABLE {affected} AS SELECT DISTINCT {keys} FROM {source.table} "
            f"WHERE batch_id = {batch_id} AND is_current",
        )
        removed = fetch_one(
            con, f"SELECT count(*) FROM {source.table} WHERE batch_id = {batch_id}"
        )[0]  # type: ignore[index]
        run(con, f"DELETE FROM {source.table} WHERE batch_id = {batch_id}")
        reelect_current(con, source, affected)
        refresh_freshness(con, source_name)
        run(
            con,
            "UPDATE batches SET status = 'rolled_back', rolled_back_at = now() WHERE batch_id = ?",
            [batch_id],
        )
        get_plugin_manager().hook.after_rollback(
            con=con, batch=Batch(batch_id, source_name, file_name, digest)
        )
        run(con, f"DROP TABLE {affected}")
    ensure_indexes(con)  # a full rebuild of the statistics in the rollback dropped some
    return {
        "batch": batch_id,
        "source": source_name,
        "file": file_name,
        "rows_removed": removed,
        "status": "rolled_back",
    }
