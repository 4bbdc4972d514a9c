"""Operational datasets: loads, quarantined rows, freshness, the link review queue.

Lists page by key: ``cursor`` is the last key of the previous page (never an
offset), so a page stays correct while loads add rows.
"""

from __future__ import annotations

import json
import re
from typing import Any

from crossinvest.access.gate import ReadContext, dataset
from crossinvest.warehouse.connection import fetch_all, fetch_dicts, fetch_one

# A resident ID is never shown in full, even if a raw value slipped through.
_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[0-9Xx])(?![0-9A-Za-z])")


def mask_ids(text: Any) -> Any:
    """Mask anything shaped like an 18-digit resident ID, keeping the division.

    >>> mask_ids("王芳 310105198902207470")
    '王芳 310105************'
    """
    if not isinstance(text, str):
        return text
    return _RESIDENT_ID.sub(lambda m: m.group(1) + "*" * 12, text)


def _page(rows: list[dict], limit: int, key: Any) -> tuple[list[dict], str | None]:
    """Trim the extra row fetched to know whether another page exists."""
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, str(key(rows[-1]))
    return rows, None


@dataset("batches", guard="batches")
def batches(
    ctx: ReadContext, *, cursor: int | None = None, limit: int = 100, source: str | None = None
) -> dict:
    """Every load (newest first), with counts and status."""
    where, params = ["TRUE"], []
    if cursor is not None:
        where.append("batch_id < ?")
        params.append(cursor)
    if source:
        where.append("source = ?")
        params.append(source)
    rows = fetch_dicts(
        ctx.con,
        f"""
        SELECT batch_id AS batch, source, file_name AS file, sha256, file_format, encoding,
               rows_read, rows_loaded, rows_rejected, rows_warned, status,
               strftime(loaded_at, '%Y-%m-%dT%H:%M:%S') AS loaded_at,
               strftime(rolled_back_at, '%Y-%m-%dT%H:%M:%S') AS rolled_back_at, elapsed_s
        FROM batches WHERE {" AND ".join(where)}
        ORDER BY batch_id DESC LIMIT ?
        """,
        [*params, limit + 1],
    )
    rows, nxt = _page(rows, limit, lambda r: r["batch"])
    return {"rows": rows, "next": nxt}


@dataset("quarantine", guard="quarantine")
def quarantine(
    ctx: ReadContext, *, batch: int | None = None, cursor: str | None = None, limit: int = 100
) -> dict:
    """Quarantined rows with every reason (column, reason, value), by (batch, row)."""
    where, params = ["TRUE"], []
    if batch is not None:
        where.append("q.batch_id = ?")
        params.append(batch)
    if cursor:
        b, r = (int(x) for x in cursor.split(":"))
        where.append("(q.batch_id, q.row_no) > (?, ?)")
        params += [b, r]
    rows = fetch_dicts(
        ctx.con,
        f"""
        SELECT q.batch_id AS batch, b.source, b.file_name AS file, q.row_no AS row,
               CAST(q.raw AS VARCHAR) AS raw,
               (SELECT list({{'column': j.column_name, 'reason': j.reason, 'severity': j.severity,
                             'value': j.value}} ORDER BY j.column_name)
                FROM rejects j WHERE j.batch_id = q.batch_id AND j.row_no = q.row_no) AS reasons
        FROM quarantine q JOIN batches b USING (batch_id)
        WHERE {" AND ".join(where)}
        ORDER BY q.batch_id, q.row_no LIMIT ?
        """,
        [*params, limit + 1],
    )
    for r in rows:
        try:
            raw = json.loads(r["raw"]) if r["raw"] else {}
        except ValueError:
            raw = {"raw": r["raw"]}
        r["raw"] = (
            {k: mask_ids(v) for k, v in raw.items()}
            if isinstance(raw, dict)
            else mask_ids(str(raw))
        )
        r["reasons"] = [dict(x, value=mask_ids(x["value"])) for x in (r["reasons"] or [])]
    rows, nxt = _page(rows, limit, lambda r: f"{r['batch']}:{r['row']}")
    return {"rows": rows, "next": nxt}


_COVERAGE_LABEL = {
    "registry": "最近成立日期",
    "shareholders": None,
    "tax": "最近所属期",
    "stats": "最近年度",
}


@dataset("freshness", guard="freshness")
def freshness(ctx: ReadContext) -> dict:
    """Per source: current rows, the latest data it covers, and its last load."""
    counted = {
        r[0]: (r[1], r[2])
        for r in fetch_all(
            ctx.con, "SELECT source, current_rows, latest_data FROM source_freshness"
        )
    }
    out = []
    for source in _COVERAGE_LABEL:
        current, latest = counted.get(source, (0, None))
        last = fetch_one(
            ctx.con,
            """
            SELECT batch_id, file_name, strftime(loaded_at, '%Y-%m-%dT%H:%M:%S'),
                   date_diff('day', loaded_at, now()::TIMESTAMP)
            FROM batches WHERE source = ? AND status = 'loaded' ORDER BY batch_id DESC LIMIT 1
            """,
            [source],
        )
        out.append(
            {
                "source": source,
                "current_rows": current,
                "latest_data": latest,
                "latest_data_label": _COVERAGE_LABEL[source],
                "last_batch": last[0] if last else None,
                "last_file": last[1] if last else None,
                "last_loaded_at": last[2] if last else None,
                "days_since_load": last[3] if last else None,
            }
        )
    return {"rows": out, "next": None}


LINK_KEY = "l.source || chr(31) || l.record_key || chr(31) || l.enterprise_key"


@dataset("links", guard="links")
def links(
    ctx: ReadContext, *, status: str = "review", cursor: str | None = None, limit: int = 100
) -> dict:
    """Record links with a status (default: those waiting for an analyst's review)."""
    scope_sql, scope_params = ctx.scope.sql("r.region_code")
    where = ["l.status = ?", scope_sql]
    params: list[Any] = [status, *scope_params]
    if cursor is not None:
        where.append(f"{LINK_KEY} > ?")
        params.append(cursor)
    # The page of links first; record names are then looked up for its records only
    # (grouping the whole tax table by taxpayer took 1.6 s at 79M tax rows).
    rows = fetch_dicts(
        ctx.con,
        f"""
        WITH page AS (
            SELECT {LINK_KEY} AS _key, l.link_id AS id, l.source, l.record_key,
                   l.enterprise_key, r.name AS enterprise_name, l.method, l.weight, l.status,
                   l.reviewer, strftime(l.decided_at, '%Y-%m-%dT%H:%M:%S') AS decided_at,
                   l.batch_id AS batch
            FROM record_links l
            LEFT JOIN registry r ON r.enterprise_key = l.enterprise_key
            WHERE {" AND ".join(where)}
            ORDER BY _key LIMIT ?
        )
        SELECT p._key, p.id, p.source, p.record_key, COALESCE(t.name, s.name) AS record_name,
               p.enterprise_key, p.enterprise_name, p.method, p.weight, p.status, p.reviewer,
               p.decided_at, p.batch
        FROM page p
        LEFT JOIN (SELECT taxpayer_key AS k, any_value(taxpayer_name) AS name FROM tax
                   WHERE taxpayer_key IN (SELECT record_key FROM page WHERE source = 'tax')
                   GROUP BY 1) t ON p.source = 'tax' AND t.k = p.record_key
        LEFT JOIN (SELECT unit_key AS k, any_value(name) AS name FROM stats
                   WHERE unit_key IN (SELECT record_key FROM page WHERE source = 'stats')
                   GROUP BY 1) s ON p.source = 'stats' AND s.k = p.record_key
        ORDER BY p._key
        """,
        [*params, limit + 1],
    )
    rows, nxt = _page(rows, limit, lambda r: r["_key"])
    for r in rows:
        del r["_key"]
    return {"rows": rows, "next": nxt}


@dataset("link", guard="links")
def link(ctx: ReadContext, *, link_id: int) -> dict | None:
    """One link by its id (the id ``crossinvest links accept|reject`` takes), or None."""
    scope_sql, scope_params = ctx.scope.sql("r.region_code")
    rows = fetch_dicts(
        ctx.con,
        f"""
        SELECT l.link_id AS id, l.source, l.record_key, l.enterprise_key, l.method, l.status
        FROM record_links l LEFT JOIN registry r ON r.enterprise_key = l.enterprise_key
        WHERE l.link_id = ? AND {scope_sql}
        """,
        [int(link_id), *scope_params],
    )
    return rows[0] if rows else None
