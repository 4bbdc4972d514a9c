"""Batches: one row per load, and the result object a load returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

from crossinvest.warehouse.connection import fetch_dicts

# The contract caps the rejects printed per file; the warehouse keeps them all.
REJECTS_SHOWN = 1000


@dataclass
class Batch:
    """What hooks receive about a load or a rollback."""

    batch_id: int
    source: str
    file_name: str
    sha256: str
    rows_loaded: int = 0


@dataclass
class LoadResult:
    batch: int | None
    source: str
    file: str
    sha256: str
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    duplicate_file: bool
    rejects: list[dict[str, Any]] = field(default_factory=list)
    rows_warned: int = 0
    elapsed_s: float = 0.0

    def as_json(self) -> dict[str, Any]:
        """The object contract.md specifies for ``ingest --json``."""
        return {
            "batch": self.batch,
            "source": self.source,
            "file": self.file,
            "sha256": self.sha256,
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_rejected": self.rows_rejected,
            "duplicate_file": self.duplicate_file,
            "rejects": self.rejects[:REJECTS_SHOWN],
            "rows_warned": self.rows_warned,
        }

    def summary_zh(self) -> str:
        if self.duplicate_file:
            return f"{self.file}：与批次 {self.batch} 的文件内容相同，未重复载入。"
        rate = f"，{self.rows_read / self.elapsed_s:,.0f} 行/秒" if self.elapsed_s > 0 else ""
        return (
            f"{self.file} → 批次 {self.batch}（{self.source}）：读取 {self.rows_read} 行，"
            f"载入 {self.rows_loaded} 行，隔离 {self.rows_rejected} 行，警告 {self.rows_warned} 行"
            f"{rate}。"
        )


def list_batches(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every load, newest last, with counts and status (``crossinvest batches``)."""
    rows = fetch_dicts(
        con,
        """
        SELECT batch_id AS batch, source, file_name AS file, sha256, file_format, encoding,
               rows_read, rows_loaded, rows_rejected, rows_warned, status,
               strftime(loaded_at, '%Y-%m-%dT%H:%M:%S') AS loaded_at,
               strftime(rolled_back_at, '%Y-%m-%dT%H:%M:%S') AS rolled_back_at,
               archive_path
        FROM batches ORDER BY batch_id
        """,
    )
    return rows
