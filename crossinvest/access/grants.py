"""Conditional sharing: a partner asks for a dataset with a purpose; an approver decides.

A request (``access_requests``) names a conditional dataset of the catalogue,
the purpose and how many days it is wanted for. An administrator approves or
rejects it, always with a reason; approval creates a grant (``grants``) that
expires. ``active_grants`` is what ``Actor.grants`` is built from, so an expired
or revoked grant stops working on the next request.

>>> import tempfile; from pathlib import Path
>>> from crossinvest.config import Home
>>> from crossinvest.access.store import open_store
>>> con = open_store(Home(Path(tempfile.mkdtemp())))
>>> _ = con.execute("INSERT INTO users (id, username, display_name, role, created_at, updated_at) "
...                 "VALUES (1, 'fgw', '发改委', 'agency', '', ''), (2, 'root', '管理员', 'admin', '', '')")
>>> r = request_access(con, 1, "enterprise", purpose="重点企业服务清单", days=30)
>>> _ = decide(con, r["id"], approver_id=2, approve=True, reason="用途明确")
>>> sorted(active_grants(con, 1))
['enterprise']
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

from crossinvest.access.catalogue import BY_NAME, requestable
from crossinvest.access.store import now, transaction

MAX_DAYS = 366


class GrantError(ValueError):
    """A request or decision that cannot be taken; ``message`` is for the user."""

    def __init__(self, message: str, message_en: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.message_en = message_en
        self.status = status  # as an HTTP answer: 400 bad input, 404 unknown, 409 conflict


def _at(at: str | None) -> str:
    return at or now()


def _plus_days(at: str, days: int) -> str:
    t = dt.datetime.strptime(at, "%Y-%m-%dT%H:%M:%SZ") + dt.timedelta(days=days)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_days(days: int) -> None:
    if not 1 <= days <= MAX_DAYS:
        raise GrantError(
            f"期限应为 1 至 {MAX_DAYS} 天，收到 {days}", f"days must be 1..{MAX_DAYS}, got {days}"
        )


def request_access(
    con: sqlite3.Connection,
    user_id: int,
    dataset: str,
    *,
    purpose: str,
    days: int = 90,
    at: str | None = None,
) -> dict[str, Any]:
    """File a request for a conditional ``dataset``; return it as a dict."""
    if dataset not in requestable():
        offered = "、".join(f"{d}（{BY_NAME[d].title}）" for d in requestable())
        raise GrantError(
            f"数据集「{dataset}」不可申请；可申请的有：{offered}",
            f"dataset {dataset!r} cannot be requested; requestable: {', '.join(requestable())}",
        )
    purpose = (purpose or "").strip()
    if len(purpose) < 4:
        raise GrantError(
            "请写明用途（至少4个字），审批人据此决定", "state the purpose (at least 4 characters)"
        )
    _check_days(days)
    with transaction(con):
        dup = con.execute(
            "SELECT id FROM access_requests WHERE user_id = ? AND dataset = ? AND status = 'pending'",
            [user_id, dataset],
        ).fetchone()
        if dup:
            raise GrantError(
                f"已有待审批的申请（编号 {dup[0]}），请等待审批结果",
                f"a request for this dataset is already pending (id {dup[0]})",
                409,
            )
        cur = con.execute(
            "INSERT INTO access_requests (user_id, dataset, purpose, days, requested_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [user_id, dataset, purpose, days, _at(at)],
        )
        rid = cur.lastrowid
    return get_request(con, int(rid or 0))


def get_request(con: sqlite3.Connection, request_id: int) -> dict[str, Any]:
    row = con.execute(_REQUESTS_SQL + " WHERE r.id = ?", [request_id]).fetchone()
    if row is None:
        raise GrantError(f"没有编号为 {request_id} 的申请", f"no request {request_id}", 404)
    return dict(row)


_REQUESTS_SQL = """
    SELECT r.id, r.user_id, u.username, u.display_name, u.org, r.dataset, r.purpose, r.days,
           r.status, r.requested_at, r.decided_at, d.username AS decided_by, r.reason
    FROM access_requests r JOIN users u ON u.id = r.user_id
    LEFT JOIN users d ON d.id = r.decided_by
"""


def list_requests(
    con: sqlite3.Connection, *, status: str | None = None, user_id: int | None = None
) -> list[dict[str, Any]]:
    """Requests, newest first, optionally of one status or one requester."""
    where: list[str] = []
    params: list[Any] = []
    if status:
        where.append("r.status = ?")
        params.append(status)
    if user_id is not None:
        where.append("r.user_id = ?")
        params.append(user_id)
    sql = _REQUESTS_SQL + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY r.id DESC"
    return [dict(r) for r in con.execute(sql, params)]


def decide(
    con: sqlite3.Connection,
    request_id: int,
    *,
    approver_id: int | None,
    approve: bool,
    reason: str,
    days: int | None = None,
    at: str | None = None,
) -> dict[str, Any]:
    """Approve (creating a grant) or reject a pending request, with a reason."""
    reason = (reason or "").strip()
    if not reason:
        raise GrantError("审批须写明理由", "a decision needs a reason")
    when = _at(at)
    with transaction(con):
        req = con.execute(
            "SELECT id, user_id, dataset, purpose, days, status FROM access_requests WHERE id = ?",
            [request_id],
        ).fetchone()
        if req is None:
            raise GrantError(f"没有编号为 {request_id} 的申请", f"no request {request_id}", 404)
        if req["status"] != "pending":
            raise GrantError(
                f"申请 {request_id} 已处理（{req['status']}）",
                f"request {request_id} is already {req['status']}",
                409,
            )
        if approver_id is not None and req["user_id"] == approver_id:
            raise GrantError("不能审批自己的申请", "you cannot decide your own request", 403)
        con.execute(
            "UPDATE access_requests SET status = ?, decided_by = ?, decided_at = ?, reason = ? "
            "WHERE id = ?",
            ["approved" if approve else "rejected", approver_id, when, reason, request_id],
        )
        if approve:
            n = days if days is not None else int(req["days"])
            _check_days(n)
            con.execute(
                "INSERT INTO grants (user_id, dataset, request_id, purpose, granted_by, "
                "granted_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    req["user_id"],
                    req["dataset"],
                    request_id,
                    req["purpose"],
                    approver_id,
                    when,
                    _plus_days(when, n),
                ],
            )
    return get_request(con, request_id)


def grant(
    con: sqlite3.Connection,
    user_id: int,
    dataset: str,
    *,
    by: int | None,
    purpose: str,
    days: int,
    at: str | None = None,
) -> int:
    """Grant ``dataset`` directly (an administrator's decision without a request)."""
    if dataset not in BY_NAME:
        raise GrantError(f"未知数据集「{dataset}」", f"unknown dataset {dataset!r}")
    _check_days(days)
    when = _at(at)
    with transaction(con):
        cur = con.execute(
            "INSERT INTO grants (user_id, dataset, purpose, granted_by, granted_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [user_id, dataset, purpose, by, when, _plus_days(when, days)],
        )
    return int(cur.lastrowid or 0)


def revoke(con: sqlite3.Connection, grant_id: int, *, at: str | None = None) -> None:
    """End a grant now."""
    with transaction(con):
        cur = con.execute(
            "UPDATE grants SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            [_at(at), grant_id],
        )
        if cur.rowcount == 0:
            raise GrantError(
                f"没有编号为 {grant_id} 的有效授权", f"no active grant {grant_id}", 404
            )


def active_grants(
    con: sqlite3.Connection, user_id: int, *, at: str | None = None
) -> dict[str, str]:
    """Dataset -> purpose of the grants in force for ``user_id`` at ``at`` (default now)."""
    rows = con.execute(
        "SELECT dataset, purpose FROM grants WHERE user_id = ? AND revoked_at IS NULL "
        "AND granted_at <= ? AND expires_at > ? ORDER BY id",
        [user_id, _at(at), _at(at)],
    )
    return {r["dataset"]: r["purpose"] or "" for r in rows}


def list_grants(
    con: sqlite3.Connection, *, user_id: int | None = None, active_only: bool = False
) -> list[dict[str, Any]]:
    """Grants newest first, with the user's name and whether each is in force now."""
    t = now()
    where: list[str] = ["1=1"]
    params: list[Any] = [t, t]
    if user_id is not None:
        where.append("g.user_id = ?")
        params.append(user_id)
    sql = f"""
        SELECT g.id, g.user_id, u.username, u.display_name, u.org, g.dataset, g.purpose,
               g.granted_at, g.expires_at, g.revoked_at, b.username AS granted_by,
               (g.revoked_at IS NULL AND g.granted_at <= ? AND g.expires_at > ?) AS active
        FROM grants g JOIN users u ON u.id = g.user_id LEFT JOIN users b ON b.id = g.granted_by
        WHERE {" AND ".join(where)} ORDER BY g.id DESC
    """
    out = [dict(r) | {"active": bool(r["active"])} for r in con.execute(sql, params)]
    return [g for g in out if g["active"]] if active_only else out
