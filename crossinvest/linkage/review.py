"""The analyst's side of linkage: the review queue, decisions, manual links, re-runs.

Every decision is a change to ``record_links`` in one transaction, followed by a
refresh of the statistics of the enterprises it re-tied (figures use only auto
and accepted links, so accepting a link moves the record's tax or revenue).

- accept: the link becomes ``accepted``; the record's other standing links are
  rejected (a record belongs to one enterprise);
- reject: the link becomes ``rejected`` and that pair is never proposed again;
  a record left with no standing link is linked afresh (other candidates);
- manual link: an analyst ties a record to an enterprise (method ``manual``,
  status ``accepted``), rejecting the record's other standing links.
"""

from __future__ import annotations

import duckdb

from crossinvest.linkage.engine import LinkStats, link_records, settings_for
from crossinvest.linkage.features import RECORD_SOURCES, eligible_records_sql
from crossinvest.linkage.util import first, scalar
from crossinvest.warehouse.connection import fetch_dicts, run, transaction

STATUSES = ("auto", "review", "accepted", "rejected")


class LinkError(LookupError):
    """A decision that cannot be made; the message is for the user (Chinese first)."""


def queue(
    con: duckdb.DuckDBPyConnection,
    *,
    status: str = "review",
    source: str | None = None,
    limit: int = 100,
    record_key: str | None = None,
    enterprise_key: str | None = None,
) -> list[dict]:
    """Links with ``status`` ('all' for any), the largest amounts first.

    Each row: link id, source, record key and name, enterprise key and name,
    method, weight, status, the amount at stake (tax 万元 or revenue 万元 of the
    record's current rows), reviewer and decision time, and the weight detail.
    """
    where = ["true"]
    params: list = []
    if status != "all":
        if status not in STATUSES:
            raise LinkError(f"未知状态「{status}」：应为 {'、'.join(STATUSES)} 或 all")
        where.append("l.status = ?")
        params.append(status)
    if source:
        where.append("l.source = ?")
        params.append(source)
    if record_key:
        where.append("l.record_key = ?")
        params.append(record_key)
    if enterprise_key:
        where.append("l.enterprise_key = ?")
        params.append(enterprise_key)
    return fetch_dicts(
        con,
        f"""
        WITH amounts AS (
            SELECT 'tax' AS source, taxpayer_key AS record_key, count(*) AS rows, sum(tax_paid_wan) AS amount_wan
            FROM tax WHERE taxpayer_uscc IS NULL GROUP BY ALL
            UNION ALL
            SELECT 'stats', unit_key, count(*), sum(revenue_wan) FROM stats WHERE unit_uscc IS NULL GROUP BY ALL
        )
        SELECT l.link_id AS id, l.source, l.record_key, l.record_name, l.enterprise_key,
               r.name AS enterprise_name, r.uscc AS enterprise_uscc, l.method, round(l.weight, 2) AS weight,
               l.status, a.rows, a.amount_wan, l.reviewer,
               strftime(l.decided_at, '%Y-%m-%dT%H:%M:%S') AS decided_at, l.batch_id,
               l.detail
        FROM record_links l
        LEFT JOIN registry r ON r.enterprise_key = l.enterprise_key
        LEFT JOIN amounts a ON a.source = l.source AND a.record_key = l.record_key
        WHERE {" AND ".join(where)}
        ORDER BY a.amount_wan DESC NULLS LAST, l.record_key, l.weight DESC NULLS LAST, l.link_id
        LIMIT {int(limit)}
        """,
        params,
    )


def _refresh_figures(con: duckdb.DuckDBPyConnection, enterprise_keys: list[str]) -> None:
    """Recompute the statistics of the enterprises whose links changed (analytics, if installed)."""
    keys = [k for k in dict.fromkeys(enterprise_keys) if k]
    if not keys:
        return
    try:
        from crossinvest.analytics.refresh import refresh_enterprises
        from crossinvest.analytics.tables import get_state
    except ImportError:
        return
    if get_state(con).get("built") != "1":
        return  # nothing materialised yet: the first statistics refresh builds everything
    run(con, "CREATE OR REPLACE TEMP TABLE lk_refresh (enterprise_key VARCHAR)")
    con.executemany("INSERT INTO lk_refresh VALUES (?)", [[k] for k in keys])
    refresh_enterprises(con, "lk_refresh", measure_only=True)
    run(con, "DROP TABLE IF EXISTS lk_refresh")


def _standing(con, source: str, record_key: str) -> list[tuple[int, str]]:
    return [
        (int(i), e)
        for i, e in run(
            con,
            "SELECT link_id, enterprise_key FROM record_links WHERE source = ? AND record_key = ? "
            "AND status IN ('auto', 'review', 'accepted')",
            [source, record_key],
        ).fetchall()
    ]


def decide(con: duckdb.DuckDBPyConnection, link_id: int, decision: str, reviewer: str) -> dict:
    """Accept or reject link ``link_id``; return the decision with what else changed."""
    if decision not in ("accepted", "rejected"):
        raise LinkError(f"未知决定「{decision}」")
    row = first(
        con,
        "SELECT source, record_key, enterprise_key, status FROM record_links WHERE link_id = ?",
        [int(link_id)],
    )
    if row is None:
        raise LinkError(f"关联 {link_id} 不存在；用 crossinvest links 查看待审队列。")
    source, record_key, enterprise_key, status = row
    if status == decision:
        return {"id": int(link_id), "status": status, "unchanged": True}
    relinked: list[LinkStats] = []
    with transaction(con):
        touched = [e for _, e in _standing(con, source, record_key)] + [enterprise_key]
        run(
            con,
            "UPDATE record_links SET status = ?, reviewer = ?, decided_at = now() WHERE link_id = ?",
            [decision, reviewer, int(link_id)],
        )
        others = 0
        if decision == "accepted":
            others = scalar(
                con,
                "SELECT count(*) FROM record_links WHERE source = ? AND record_key = ? AND link_id <> ? "
                "AND status IN ('auto', 'review', 'accepted')",
                [source, record_key, int(link_id)],
            )
            run(
                con,
                "UPDATE record_links SET status = 'rejected', reviewer = ?, decided_at = now() "
                "WHERE source = ? AND record_key = ? AND link_id <> ? AND status IN ('auto', 'review', 'accepted')",
                [reviewer, source, record_key, int(link_id)],
            )
        elif not _standing(con, source, record_key):
            key = RECORD_SOURCES[source]["key"]
            relinked.append(
                link_records(
                    con,
                    source,
                    eligible_records_sql(source, f"{key} = '{_esc(record_key)}'"),
                    batch_id=None,
                    settings=settings_for(con),
                )
            )
            touched += [e for _, e in _standing(con, source, record_key)]
        _refresh_figures(con, touched)
    return {
        "id": int(link_id),
        "source": source,
        "record_key": record_key,
        "enterprise_key": enterprise_key,
        "status": decision,
        "reviewer": reviewer,
        "others_rejected": int(others),
        "relinked": [s.as_json() for s in relinked],
    }


def _esc(s: str) -> str:
    return s.replace("'", "''")


def manual_link(
    con: duckdb.DuckDBPyConnection,
    record_key: str,
    enterprise_key: str,
    reviewer: str,
    source: str | None = None,
) -> dict:
    """Tie ``record_key`` to ``enterprise_key`` by hand (method manual, status accepted)."""
    if scalar(con, "SELECT count(*) FROM registry WHERE enterprise_key = ?", [enterprise_key]) == 0:
        raise LinkError(f"企业「{enterprise_key}」不在登记信息中。")
    found = [
        s
        for s, spec in RECORD_SOURCES.items()
        if (source in (None, s))
        and scalar(
            con, f"SELECT count(*) FROM {spec['view']} WHERE {spec['key']} = ?", [record_key]
        )
    ]
    if not found:
        raise LinkError(f"记录「{record_key}」不在纳税或统计数据中。")
    if len(found) > 1:
        raise LinkError(f"记录「{record_key}」同时出现在纳税与统计数据中：请用 --source 指明。")
    src = found[0]
    spec = RECORD_SOURCES[src]
    if scalar(
        con,
        f"SELECT count(*) FROM {spec['view']} WHERE {spec['key']} = ? AND {spec['uscc']} IS NOT NULL",
        [record_key],
    ):
        raise LinkError(
            f"记录「{record_key}」带有有效的统一社会信用代码，已按代码关联，无需人工关联。"
        )
    with transaction(con):
        touched = [e for _, e in _standing(con, src, record_key)] + [enterprise_key]
        run(
            con,
            "UPDATE record_links SET status = 'rejected', reviewer = ?, decided_at = now() "
            "WHERE source = ? AND record_key = ? AND status IN ('auto', 'review', 'accepted')",
            [reviewer, src, record_key],
        )
        batch = scalar(
            con, f"SELECT max(batch_id) FROM {spec['view']} WHERE {spec['key']} = ?", [record_key]
        )
        name = scalar(
            con,
            f"SELECT any_value({spec['name']}) FROM {spec['view']} WHERE {spec['key']} = ?",
            [record_key],
        )
        run(
            con,
            """INSERT INTO record_links (source, record_key, enterprise_key, method, weight, status, reviewer,
                                         decided_at, batch_id, created_at, record_name, detail)
               VALUES (?, ?, ?, 'manual', NULL, 'accepted', ?, now(), ?, now(), ?, NULL)""",
            [src, record_key, enterprise_key, reviewer, batch, name],
        )
        link_id = scalar(
            con,
            "SELECT max(link_id) FROM record_links WHERE source = ? AND record_key = ? AND method = 'manual'",
            [src, record_key],
        )
        _refresh_figures(con, touched)
    return {
        "id": int(link_id),
        "source": src,
        "record_key": record_key,
        "enterprise_key": enterprise_key,
        "method": "manual",
        "status": "accepted",
        "reviewer": reviewer,
    }


def relink(con: duckdb.DuckDBPyConnection, *, redo: bool = False) -> list[LinkStats]:
    """Link every record without a standing link; with ``redo``, first drop all model-made links.

    Analysts' decisions (accepted, rejected, manual) always stay.
    """
    settings = settings_for(con)
    with transaction(con):
        mark = scalar(con, "SELECT coalesce(max(link_id), 0) FROM record_links")
        touched = []
        if redo:
            model_made = "status IN ('auto', 'review') AND method IN ('regno', 'splink')"
            touched = [
                r[0]
                for r in run(
                    con, f"SELECT DISTINCT enterprise_key FROM record_links WHERE {model_made}"
                ).fetchall()
            ]
            run(con, f"DELETE FROM record_links WHERE {model_made}")
        out = [
            link_records(con, s, eligible_records_sql(s), batch_id=None, settings=settings)
            for s in RECORD_SOURCES
        ]
        touched += [
            r[0]
            for r in run(
                con, f"SELECT DISTINCT enterprise_key FROM record_links WHERE link_id > {int(mark)}"
            ).fetchall()
        ]
        _refresh_figures(con, touched)
    return out
