"""The audit log (审计日志): who did what, when, to which data, how many rows, for what purpose.

Every sign-in, read, query, export, grant and decision is one row of the
``audit`` table of the access store (``store.py``). The log is append-only
twice over:

* through any connection, the table's triggers refuse ``UPDATE`` and ``DELETE``;
* each row carries ``prev_hash`` (the hash of the row before it, 64 zeros for
  the first) and ``hash`` = sha256(prev_hash + canonical JSON of its fields, id
  included). Someone who drops the triggers and edits the file breaks the chain,
  and ``audit_verify.verify`` says at which row. (A chain cannot stop whoever rewrites every
  hash after the change; ``verify`` returns the head hash so an administrator
  can note it elsewhere and compare later.)

Resident ID numbers (居民身份证号) are never stored in full: any 18-character
ID-shaped token (18 characters with a birth date inside) in the free-text fields
(path, query, purpose, detail) is masked to its 6-digit division, as
``web.datasets.ops.mask_ids`` shows it (``310105************``).

Times: ``at`` is UTC (``2026-11-27T02:55:27Z``, as ``store.now()``). Dates given
to ``search`` without a time are Beijing dates (UTC+8), as the office reads them.

Cost: one ``record`` is one ``BEGIN IMMEDIATE`` … ``COMMIT`` with a read of the
last hash; see ``benchmarks/bench_access_store.py`` and docs/benchmarks.md.

>>> import tempfile; from pathlib import Path
>>> from crossinvest.config import Home
>>> from crossinvest.access.store import open_store
>>> con = open_store(Home(Path(tempfile.mkdtemp())))
>>> rid = record(con, "query", username="fgw", query="q=310105198902207470", status=200)
>>> search(con)[0]["query"]
'q=310105************'
>>> from crossinvest.access.audit_verify import verify
>>> verify(con).ok
True
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import re
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from crossinvest.access.store import transaction

GENESIS = "0" * 64

EVENT_NAMES: dict[str, tuple[str, str]] = {
    "sign_in": ("登录", "signed in"),
    "sign_in_failed": ("登录失败", "sign-in failed"),
    "sign_out": ("退出", "signed out"),
    "read": ("查看", "read"),
    "export": ("导出", "export"),
    "query": ("查询", "query"),
    "grant": ("授权", "grant"),
    "revoke": ("撤销授权", "revoke"),
    "request": ("申请", "request"),
    "decide": ("审批", "decision"),
    "admin": ("管理操作", "administration"),
}
EVENTS = frozenset(EVENT_NAMES)

# The columns a row's hash covers, in the order of the table (prev_hash last).
FIELDS = (
    "id", "at", "event", "user_id", "username", "role", "org", "districts", "via", "ip",
    "method", "path", "query", "dataset", "rows", "status", "purpose", "detail", "prev_hash",
)  # fmt: skip
_SORTED = tuple(sorted(FIELDS))
_ARGS = frozenset(FIELDS) - {"id", "prev_hash"} | {"actor"}

# Column labels, Chinese first (CLI tables, CSV/XLSX headers).
LABELS: dict[str, tuple[str, str]] = {
    "id": ("编号", "id"), "at": ("时间", "time"), "event": ("事件", "event"),
    "user_id": ("用户编号", "user id"), "username": ("用户", "user"), "role": ("角色", "role"),
    "org": ("单位", "organisation"), "districts": ("所辖区", "districts"), "via": ("方式", "via"),
    "ip": ("IP", "IP"), "method": ("方法", "method"), "path": ("路径", "path"),
    "query": ("查询条件", "query"), "dataset": ("数据集", "dataset"), "rows": ("行数", "rows"),
    "status": ("状态码", "status"), "purpose": ("用途", "purpose"), "detail": ("详情", "detail"),
    "prev_hash": ("前一行散列", "previous hash"), "hash": ("散列", "hash"),
}  # fmt: skip

# The same mask as ``web.datasets.ops.mask_ids`` (not imported: that package pulls in
# the web app and imports ``access.gate``, a cycle once the gate records reads). The
# pattern differs on purpose: it asks for the birth date every real ID carries, so an
# all-digit USCC or order number is rarely hidden from the auditor, and it masks an ID
# glued to letters (``q=id310105…``), which a URL often does.
_RESIDENT_ID = re.compile(
    r"(?<!\d)(\d{6})(?:18|19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?!\d)"
)
_AT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
BEIJING = dt.timezone(dt.timedelta(hours=8), "UTC+08:00")


def mask_ids(text: Any) -> Any:
    """Mask anything shaped like an 18-character resident ID, keeping the division.

    >>> mask_ids("王芳 31010519890220747X, id=q310105198902207470, 1310105198902207470")
    '王芳 310105************, id=q310105************, 1310105198902207470'
    """
    if not isinstance(text, str):
        return text
    return _RESIDENT_ID.sub(lambda m: m.group(1) + "*" * 12, text)


def _mask_deep(value: Any) -> Any:
    """``mask_ids`` over a JSON-able structure: keys, strings, and ID-shaped integers."""
    if isinstance(value, str):
        return mask_ids(value)
    if isinstance(value, Mapping):
        return {mask_ids(str(k)): _mask_deep(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [_mask_deep(v) for v in items]
    if isinstance(value, int) and not isinstance(value, bool):
        masked = mask_ids(str(value))
        return value if masked == str(value) else masked
    return value


def canonical(row: Mapping[str, Any]) -> str:
    """The text a row's hash covers: its ``FIELDS`` as sorted, compact JSON."""
    # keys already in sorted order: the same text as ``sort_keys=True``, cheaper
    return json.dumps({k: row.get(k) for k in _SORTED}, ensure_ascii=False, separators=(",", ":"))


def row_hash(row: Mapping[str, Any]) -> str:
    """sha256 of ``prev_hash`` followed by ``canonical(row)``."""
    return hashlib.sha256((row["prev_hash"] + canonical(row)).encode("utf-8")).hexdigest()


def _int(value: Any, name: str) -> int | None:
    if value is None or type(value) is int:
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"审计字段 {name} 应为整数：{value!r}") from None


def _text(value: Any) -> str | None:
    return value if value is None or type(value) is str else str(value)


def _masked(value: Any) -> str | None:
    if value is None:
        return None
    text = _text(value) or ""
    return text if len(text) < 18 else mask_ids(text)


def _districts(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    return ",".join(sorted(str(v) for v in value)) or None


def _utc_now() -> str:
    # ``store.now()``'s format; time.gmtime is cheaper than datetime on this hot path
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def build_row(event: str, *, actor: Any = None, **fields: Any) -> dict[str, Any]:
    """The stored form of one audit row (without id and hashes): typed and masked.

    Fields come from ``actor`` (an ``access.actor.Actor``) when given; explicit
    non-None arguments override them.
    """
    if fields.keys() - _ARGS:
        raise TypeError(f"unknown audit fields: {sorted(fields.keys() - _ARGS)}")
    if event not in EVENTS:
        raise ValueError(f"未知的审计事件「{event}」：应为 {'、'.join(sorted(EVENTS))}")
    get = fields.get
    if actor is not None:
        for name, value in (
            ("user_id", actor.user_id),
            ("username", actor.id),
            ("role", actor.role),
            ("org", actor.org),
            ("districts", actor.scope.districts),
            ("via", actor.via),
        ):
            if get(name) is None:
                fields[name] = value
    at = get("at") or _utc_now()
    if type(at) is not str or not _AT.match(at):
        raise ValueError(f"审计时间应为 UTC「YYYY-MM-DDTHH:MM:SSZ」：{at!r}")
    detail = get("detail")
    if detail is not None and type(detail) is not str:
        detail = json.dumps(_mask_deep(detail), ensure_ascii=False, sort_keys=True, default=str)
    return {
        "at": at,
        "event": event,
        "user_id": _int(get("user_id"), "user_id"),
        # Free text too: a failed sign-in records whatever was typed as the username.
        "username": _masked(get("username")),
        "role": _text(get("role")),
        "org": _masked(get("org")),
        "districts": _districts(get("districts")),
        "via": _text(get("via")),
        "ip": _text(get("ip")),
        "method": _text(get("method")),
        "path": _masked(get("path")),
        "query": _masked(get("query")),
        "dataset": _text(get("dataset")),
        "rows": _int(get("rows"), "rows"),
        "status": _int(get("status"), "status"),
        "purpose": _masked(get("purpose")),
        "detail": _masked(detail),
    }


_INSERT = (
    f"INSERT INTO audit ({', '.join(FIELDS)}, hash) VALUES ({', '.join('?' for _ in FIELDS)}, ?)"
)


def _append(con: sqlite3.Connection, rows: Iterable[dict[str, Any]]) -> list[int]:
    """Chain and insert ``rows`` (built by ``build_row``); the caller holds the write lock."""
    seq, last_id, prev = con.execute(
        "SELECT (SELECT seq FROM sqlite_sequence WHERE name = 'audit'),"
        " (SELECT id FROM audit ORDER BY id DESC LIMIT 1),"
        " (SELECT hash FROM audit ORDER BY id DESC LIMIT 1)"
    ).fetchone()
    # ids are given, not left to AUTOINCREMENT, because the hash covers the id.
    next_id = max(seq or 0, last_id or 0) + 1
    prev = prev or GENESIS
    params = []
    for row in rows:
        full = {**row, "id": next_id, "prev_hash": prev}
        h = row_hash(full)
        params.append([full[k] for k in FIELDS] + [h])
        prev = h
        next_id += 1
    if len(params) == 1:
        con.execute(_INSERT, params[0])
    else:
        con.executemany(_INSERT, params)
    return [p[0] for p in params]


def _write(con: sqlite3.Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Append in the caller's transaction if there is one (so a grant and its audit row
    commit or roll back together; it must be ``BEGIN IMMEDIATE``), else in a new one."""
    if con.in_transaction:
        return _append(con, rows)
    with transaction(con):
        return _append(con, rows)


def record(
    con: sqlite3.Connection,
    event: str,
    *,
    actor: Any = None,
    username: str | None = None,
    role: str | None = None,
    org: str | None = None,
    districts: str | Iterable[str] | None = None,
    via: str | None = None,
    ip: str | None = None,
    method: str | None = None,
    path: str | None = None,
    query: str | None = None,
    dataset: str | None = None,
    rows: int | None = None,
    status: int | None = None,
    purpose: str | None = None,
    detail: dict | None = None,
    user_id: int | None = None,
    at: str | None = None,
) -> int:
    """Append one audit row; return its id.

    ``dataset`` should be the catalogue name (the gate's guard, e.g. ``enterprise``)
    so that usage statistics can count it; the gate's own dataset name can go in
    ``detail``. ``at`` (UTC, ``store.now()`` format) is for imports and tests only.
    Inside the caller's ``transaction(con)`` the row joins it; otherwise it commits alone.

    >>> # record(con, "read", actor=actor, path="/api/v1/stats", dataset="stats", rows=12, status=200)
    """
    row = build_row(
        event,
        actor=actor,
        username=username,
        role=role,
        org=org,
        districts=districts,
        via=via,
        ip=ip,
        method=method,
        path=path,
        query=query,
        dataset=dataset,
        rows=rows,
        status=status,
        purpose=purpose,
        detail=detail,
        user_id=user_id,
        at=at,
    )
    return _write(con, [row])[0]


def record_many(con: sqlite3.Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append several rows (dicts of ``record``'s arguments, ``event`` required) in one
    transaction, chained in the order given."""
    built = []
    for r in rows:
        args = dict(r)
        event = args.pop("event", None)
        if event is None:
            raise ValueError("每条审计记录都需要 event")
        built.append(build_row(event, **args))
    if built:
        _write(con, built)


# --- reading ---------------------------------------------------------------------


def to_utc(value: str | dt.date | dt.datetime, *, end: bool = False) -> str:
    """A bound for ``at`` comparisons, in the store's UTC text form.

    A date (``2026-11-01``) is a Beijing date: its start, or with ``end=True``
    the start of the next day (so ``until`` includes the whole day). A datetime
    without an offset is Beijing time; with one (or ``Z``) it is taken as given.

    >>> to_utc("2026-11-01"), to_utc("2026-11-01", end=True)
    ('2026-10-31T16:00:00Z', '2026-11-01T16:00:00Z')
    >>> to_utc("2026-11-01T12:00:00Z")
    '2026-11-01T12:00:00Z'
    """
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                value = dt.date.fromisoformat(text)
            else:
                value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"无法识别的日期时间「{value}」：应为 YYYY-MM-DD 或 ISO 8601"
            ) from None
    if not isinstance(value, dt.datetime):
        d = value + dt.timedelta(days=1) if end else value
        value = dt.datetime(d.year, d.month, d.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=BEIJING)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_time(at: str | None) -> str | None:
    """A stored UTC ``at`` as Beijing time for people (``2026-11-01 04:00:00``)."""
    if not at:
        return at
    t = dt.datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(BEIJING)
    return t.strftime("%Y-%m-%d %H:%M:%S")


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def search(
    con: sqlite3.Connection,
    *,
    user: str | None = None,
    org: str | None = None,
    event: str | Sequence[str] | None = None,
    dataset: str | Sequence[str] | None = None,
    since: str | dt.date | None = None,
    until: str | dt.date | None = None,
    path_contains: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
    user_id: int | None = None,
) -> list[dict[str, Any]]:
    """Audit rows matching every filter given, newest first, at most ``limit``.

    Page on with ``before_id`` = the last id of the previous page (keyset, never
    an offset, so pages stay right while rows are added). ``user`` is a username
    (any case); ``event`` and ``dataset`` take one value, a comma list or a list;
    ``since`` is inclusive, ``until`` inclusive of its whole day when a date.
    ``detail`` comes back parsed.
    """
    where: list[str] = []
    params: list[Any] = []
    if user:
        where.append("username = ? COLLATE NOCASE")
        params.append(user)
    if user_id is not None:
        where.append("user_id = ?")
        params.append(int(user_id))
    if org:
        where.append("org = ?")
        params.append(org)
    for column, values in (("event", _as_list(event)), ("dataset", _as_list(dataset))):
        if values:
            where.append(f"{column} IN ({', '.join('?' for _ in values)})")
            params.extend(values)
    if since:
        where.append("at >= ?")
        params.append(to_utc(since))
    if until:
        bound = to_utc(until, end=True)
        # a date's end is exclusive (next midnight); a datetime is inclusive
        date_only = isinstance(until, dt.date) and not isinstance(until, dt.datetime)
        where.append("at < ?" if date_only or len(str(until).strip()) == 10 else "at <= ?")
        params.append(bound)
    if path_contains:
        where.append("instr(path, ?) > 0")
        params.append(path_contains)
    if before_id is not None:
        where.append("id < ?")
        params.append(int(before_id))
    limit = max(1, min(int(limit), 10_000))
    sql = (
        "SELECT * FROM audit"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + " ORDER BY id DESC LIMIT ?"
    )
    out = []
    for r in con.execute(sql, [*params, limit]):
        d = dict(r)
        if d.get("detail"):
            with contextlib.suppress(ValueError):  # a plain-text detail stays text
                d["detail"] = json.loads(d["detail"])
        out.append(d)
    return out
