"""Checking the audit log's hash chain (``crossinvest audit verify``).

See ``audit.py`` for the chain itself: each row's ``hash`` covers its fields and
the hash of the row before it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from crossinvest.access.audit import FIELDS, GENESIS, row_hash


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of ``verify``: ``ok``, rows checked, the first row that fails and why."""

    ok: bool
    rows: int
    first_broken_id: int | None = None
    reason: str | None = None
    head: str | None = None  # hash of the last row: note it to detect a full rewrite later

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "rows": self.rows,
            "first_broken_id": self.first_broken_id,
            "reason": self.reason,
            "head": self.head,
        }


def verify(con: sqlite3.Connection, *, batch: int = 5000) -> VerifyResult:
    """Recompute the hash chain over the whole log.

    Fails on the first row whose ``prev_hash`` is not the hash of the row before
    it, whose ``hash`` is not what its fields give, or whose id is not the
    previous id + 1 (a row removed); and when rows are missing at the end
    (``sqlite_sequence`` has seen a higher id than the last row).
    """
    own = not con.in_transaction
    if own:
        con.execute("BEGIN")  # one snapshot: rows appended meanwhile are not half-seen
    try:
        return _verify(con, batch)
    finally:
        if own:
            con.execute("COMMIT")


def _verify(con: sqlite3.Connection, batch: int) -> VerifyResult:
    cols = ", ".join(FIELDS)
    cur = con.execute(f"SELECT {cols}, hash FROM audit ORDER BY id")
    prev, expected_id, n = GENESIS, 1, 0  # ids start at 1 and never skip
    while chunk := cur.fetchmany(batch):
        for r in chunk:
            row = dict(zip((*FIELDS, "hash"), tuple(r), strict=True))
            rid = row["id"]
            if rid != expected_id:
                return VerifyResult(False, n, expected_id, f"第 {expected_id} 行缺失（被删除）")
            if row["prev_hash"] != prev:
                return VerifyResult(
                    False, n, rid, f"第 {rid} 行的前一行散列不符（前面的行被改动或删除）"
                )
            if row_hash(row) != row["hash"]:
                return VerifyResult(False, n, rid, f"第 {rid} 行的内容与散列不符（被改动）")
            prev, expected_id = row["hash"], rid + 1
            n += 1
    seq = con.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit'").fetchone()
    last = expected_id - 1
    if seq is not None and seq[0] is not None and seq[0] > last:
        return VerifyResult(False, n, last + 1, f"第 {last + 1} 行起缺失（末尾的行被删除）")
    return VerifyResult(True, n, head=None if prev == GENESIS else prev)
