"""Usage statistics of the sharing service (共享使用情况): the figure the annual evaluation asks for.

Computed in SQL over the access store: ``audit`` (what was used), ``users``
(who may use it), ``grants`` and ``api_keys`` (what they held).

Definitions (口径):

* **Month (统计月份)**: a calendar month in Beijing time (UTC+8); ``audit.at`` is
  UTC, so 2026-11 runs from ``2026-10-31T16:00:00Z`` (inclusive) to
  ``2026-11-30T16:00:00Z`` (exclusive).
* **Partner account (共享对象账号)**: a ``users`` row whose role is a partner role
  (``district`` 区用户, ``agency`` 委办局用户, ``api`` 接口客户端); the office's own
  staff (``STAFF_ROLES``: admin, analyst) never count: the office reading its
  own data is not sharing. An audit row's role is the one recorded at the time
  (else the account's current role).
* **Consumer (共享对象)**: an organisation: ``org`` of the account (as recorded in
  the audit row, else the account's current one), or its username when it has
  none. A district office or commission with several accounts and keys is one
  consumer.
* **Use (使用)**: an audit row of event ``read``, ``export`` or ``query`` with
  ``status < 400`` (a refused or failed request, or one recorded without a
  status, is not a use) by a partner account, naming a shared catalogue dataset
  in ``audit.dataset``. The web layer writes a ``read`` row for every page a
  partner opens (home, catalogue, its own requests): those are not uses of shared
  data, and counting them would make every partner who signs in "active".
  ``usage(..., shared_only=False)`` counts every such row instead.
  **Requests (调用次数)** count uses; **rows (交付行数)** add up their ``rows``;
  **refused (被拒次数)** counts a partner's read/export/query rows with status ≥ 400.
* **Entitled consumer (应用对象)**: a consumer with at least one enabled
  (``disabled = 0``) partner account created before the month's end, plus any
  consumer that used the service in the month (having used it proves it was
  entitled then, even if its accounts were disabled since: the store keeps no
  history of disabling). So active ≤ entitled always.
* **Active consumer (活跃对象)**: a consumer with at least one use in the month.
* **Consumer rate (共享对象使用率)** = active ÷ entitled.
* **Datasets shared (共享数据集)** = ``len(catalogue.shared())`` (unconditional and
  conditional datasets). **Datasets used (被使用数据集)**: distinct shared datasets
  named in the month's uses (``audit.dataset`` holds the catalogue name).
  **Dataset rate (数据集使用率)** = used ÷ shared.
* Rates are fractions 0–1, ``None`` when the denominator is 0.
* **By district (按区)**: uses by ``district`` accounts, counted once for each
  district code the account covers (an account over two districts adds its
  requests to both).
* **Ranking (排名)**: consumers with at least one use, by requests (standard
  competition rank: ties share a rank, the next rank skips).

>>> import tempfile; from pathlib import Path
>>> from crossinvest.config import Home
>>> from crossinvest.access.store import open_store
>>> usage(open_store(Home(Path(tempfile.mkdtemp()))), month="2026-11")["rates"]["consumer_rate"] is None
True
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import uuid
from typing import Any

from crossinvest.access.actor import STAFF_ROLES
from crossinvest.access.audit import BEIJING
from crossinvest.access.catalogue import BY_NAME, CLASS_NAMES, shared

PARTNER_ROLES: tuple[str, ...] = ("district", "agency", "api")
USE_EVENTS: tuple[str, ...] = ("read", "export", "query")
assert not set(PARTNER_ROLES) & STAFF_ROLES

LABELS: dict[str, tuple[str, str]] = {
    "month": ("统计月份", "month"),
    "org": ("共享对象", "consumer"),
    "roles": ("角色", "roles"),
    "accounts": ("有效账号数", "enabled accounts"),
    "keys": ("有效接口密钥数", "valid API keys"),
    "grants": ("有效授权数", "valid grants"),
    "requests": ("调用次数", "requests"),
    "rows": ("交付行数", "rows delivered"),
    "refused": ("被拒次数", "refused requests"),
    "datasets_used": ("使用数据集数", "datasets used"),
    "datasets": ("使用的数据集", "datasets"),
    "district": ("区划代码", "district code"),
    "district_name": ("区", "district"),
    "consumers": ("使用对象数", "consumers"),
    "dataset": ("数据集", "dataset"),
    "title": ("数据集名称", "dataset title"),
    "sharing": ("共享类型", "sharing class"),
    "rank": ("名次", "rank"),
    "consumers_active": ("活跃共享对象数", "active consumers"),
    "consumers_entitled": ("应用共享对象数", "entitled consumers"),
    "consumer_rate": ("共享对象使用率", "consumer usage rate"),
    "datasets_shared": ("共享数据集数", "datasets shared"),
    "dataset_rate": ("数据集使用率", "dataset usage rate"),
    "indicator": ("指标", "indicator"),
    "value": ("数值", "value"),
}

TABLES: dict[str, tuple[str, str]] = {
    "rates": ("共享使用率", "usage rates"),
    "by_org": ("按共享对象", "by consumer"),
    "by_district": ("按区", "by district"),
    "by_dataset": ("按数据集", "by dataset"),
    "by_month": ("月度趋势", "monthly trend"),
    "ranking": ("使用排名", "ranking"),
}

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_ROLES = ", ".join(f"'{r}'" for r in PARTNER_ROLES)
_EVENTS = ", ".join(f"'{e}'" for e in USE_EVENTS)

# Every read/export/query audit row of a partner account in [start, end), once, with
# its Beijing month and consumer, into a temporary table: each table of the result is
# then an aggregate over it (one scan of ``audit`` per call instead of one per figure).
# ``ok`` marks a use; other rows are kept for the ``refused`` column.
_HOURS = int(BEIJING.utcoffset(None).total_seconds() // 3600)
_COLLECT = f"""
CREATE TEMP TABLE {{t}} AS
SELECT strftime('%Y-%m', a.at, '+{_HOURS} hours') AS month,
       COALESCE(NULLIF(a.org, ''), NULLIF(u.org, ''), a.username, u.username) AS consumer,
       COALESCE(a.role, u.role) AS role,
       COALESCE(NULLIF(a.districts, ''), u.districts) AS districts,
       a.dataset AS dataset,
       COALESCE(a.rows, 0) AS rows,
       COALESCE(a.status < 400 AND {{shared}}, 0) AS ok,
       COALESCE(a.status >= 400, 0) AS refused
FROM audit a LEFT JOIN users u ON u.id = a.user_id
WHERE a.at >= :start AND a.at < :end AND a.event IN ({_EVENTS})
  AND COALESCE(a.role, u.role) IN ({_ROLES})
  AND COALESCE(NULLIF(a.org, ''), NULLIF(u.org, ''), a.username, u.username) IS NOT NULL
"""


def _cte(t: str) -> str:
    """``partner`` (the month's rows) and ``used`` (its uses) over collected table ``t``."""
    return (
        f"WITH partner AS (SELECT * FROM {t} WHERE month = :month),"
        " used AS (SELECT * FROM partner WHERE ok)\n"
    )


_ENTITLED = f"""
SELECT COALESCE(NULLIF(org, ''), username) AS consumer, role, districts, id
FROM users
WHERE role IN ({_ROLES}) AND disabled = 0 AND julianday(created_at) < julianday(:end)
"""


def current_month(today: dt.datetime | None = None) -> str:
    """The current month in Beijing time, ``YYYY-MM``."""
    t = (today or dt.datetime.now(dt.UTC)).astimezone(BEIJING)
    return f"{t.year:04d}-{t.month:02d}"


def _parse_month(month: str) -> tuple[int, int]:
    m = _MONTH.match(month or "")
    if not m:
        raise ValueError(f"月份「{month}」格式不对：应为 YYYY-MM，例如 2026-11")
    return int(m.group(1)), int(m.group(2))


def month_bounds(month: str) -> tuple[str, str]:
    """UTC bounds ``[start, end)`` of a Beijing calendar month, in the store's text form.

    >>> month_bounds("2026-12")
    ('2026-11-30T16:00:00Z', '2026-12-31T16:00:00Z')
    """
    y, m = _parse_month(month)
    ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)

    def utc(year: int, mon: int) -> str:
        t = dt.datetime(year, mon, 1, tzinfo=BEIJING).astimezone(dt.UTC)
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")

    return utc(y, m), utc(ny, nm)


def months_ending(month: str, n: int) -> list[str]:
    """The ``n`` months ending with ``month``, oldest first.

    >>> months_ending("2026-02", 3)
    ['2025-12', '2026-01', '2026-02']
    """
    y, m = _parse_month(month)
    index = y * 12 + (m - 1)
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - max(1, n) + 1, index + 1)]


def _rate(num: int, den: int) -> float | None:
    return None if den == 0 else num / den


def _entitled(con: sqlite3.Connection, end: str) -> list[sqlite3.Row]:
    return con.execute(_ENTITLED, {"end": end}).fetchall()


def _trend(con: sqlite3.Connection, t: str, months: list[str], shared_names: list[str]) -> list:
    """Requests, rows, consumers and rates of each of ``months``, from one GROUP BY."""
    names = {f"d{i}": n for i, n in enumerate(shared_names)}
    marks = ", ".join(f":{k}" for k in names) or "NULL"
    sums = {
        r["month"]: r
        for r in con.execute(
            f"""
            SELECT month, count(*) AS requests, sum(rows) AS rows,
                   count(DISTINCT CASE WHEN dataset IN ({marks}) THEN dataset END) AS ds
            FROM {t} WHERE ok GROUP BY month
            """,
            names,
        )
    }
    active: dict[str, set[str]] = {m: set() for m in months}
    for r in con.execute(f"SELECT DISTINCT month, consumer FROM {t} WHERE ok"):
        active.setdefault(r["month"], set()).add(r["consumer"])
    out = []
    for m in months:
        entitled = {r["consumer"] for r in _entitled(con, month_bounds(m)[1])} | active[m]
        s = sums.get(m)
        used = s["ds"] if s else 0
        out.append(
            {
                "month": m,
                "requests": s["requests"] if s else 0,
                "rows": s["rows"] if s else 0,
                "consumers_active": len(active[m]),
                "consumers_entitled": len(entitled),
                "consumer_rate": _rate(len(active[m]), len(entitled)),
                "datasets_used": used,
                "datasets_shared": len(shared_names),
                "dataset_rate": _rate(used, len(shared_names)),
            }
        )
    return out


def _by_org(con: sqlite3.Connection, t: str, month: str, start: str, end: str) -> list[dict]:
    b = {"month": month, "start": start, "end": end}
    orgs: dict[str, dict] = {}

    def org(name: str) -> dict:
        return orgs.setdefault(
            name,
            {
                "org": name,
                "roles": set(),
                "accounts": 0,
                "keys": 0,
                "grants": 0,
                "requests": 0,
                "rows": 0,
                "refused": 0,
                "datasets": [],
            },
        )

    for r in _entitled(con, end):
        o = org(r["consumer"])
        o["roles"].add(r["role"])
        o["accounts"] += 1
    for r in con.execute(
        _cte(t)
        + """
        SELECT consumer, group_concat(DISTINCT role) AS roles,
               sum(ok) AS requests, COALESCE(sum(CASE WHEN ok THEN rows END), 0) AS rows,
               sum(refused) AS refused
        FROM partner GROUP BY consumer
        """,
        b,
    ):
        o = org(r["consumer"])
        o["roles"].update((r["roles"] or "").split(","))
        o.update(requests=r["requests"], rows=r["rows"], refused=r["refused"])
    for r in con.execute(
        _cte(t)
        + "SELECT DISTINCT consumer, dataset FROM used WHERE dataset IS NOT NULL"
        + " ORDER BY consumer, dataset",
        b,
    ):
        org(r["consumer"])["datasets"].append(r["dataset"])
    # what the consumer held during the month: unrevoked, unexpired grants and keys
    held = f"""
        SELECT COALESCE(NULLIF(u.org, ''), u.username) AS consumer, count(*) AS n
        FROM {{table}} t JOIN users u ON u.id = t.user_id
        WHERE u.role IN ({_ROLES})
          AND julianday(t.{{created}}) < julianday(:end)
          AND julianday(t.expires_at) > julianday(:start)
          AND (t.revoked_at IS NULL OR julianday(t.revoked_at) > julianday(:start))
        GROUP BY 1
    """
    for table, created, key in (
        ("grants", "granted_at", "grants"),
        ("api_keys", "created_at", "keys"),
    ):
        for r in con.execute(held.format(table=table, created=created), b):
            if r["consumer"] in orgs:
                orgs[r["consumer"]][key] = r["n"]
    out = []
    for o in orgs.values():
        o["roles"] = ",".join(sorted(x for x in o["roles"] if x))
        o["datasets_used"] = len(o["datasets"])
        out.append(o)
    out.sort(key=lambda o: (-o["requests"], -o["rows"], o["org"]))
    return out


def _by_district(con: sqlite3.Connection, t: str, month: str, end: str) -> list[dict]:
    from crossinvest.reference.regions import region_name

    rows: dict[str, dict] = {}
    consumers: dict[str, set[str]] = {}
    # split the comma lists in Python: a malformed value must not break the whole page
    for r in con.execute(
        _cte(t)
        + """
        SELECT districts, consumer, count(*) AS requests, sum(rows) AS rows
        FROM used WHERE role = 'district' AND districts IS NOT NULL
        GROUP BY districts, consumer
        """,
        {"month": month},
    ):
        for code in {c.strip() for c in r["districts"].split(",") if c.strip()}:
            d = rows.setdefault(code, {"district": code, "requests": 0, "rows": 0})
            d["requests"] += r["requests"]
            d["rows"] += r["rows"]
            consumers.setdefault(code, set()).add(r["consumer"])
    for code, d in rows.items():
        d["consumers"] = len(consumers[code])
    for r in _entitled(con, end):
        if r["role"] == "district" and r["districts"]:
            for code in r["districts"].split(","):
                code = code.strip()
                if code:
                    rows.setdefault(
                        code, {"district": code, "requests": 0, "rows": 0, "consumers": 0}
                    )
    out = sorted(rows.values(), key=lambda d: (-d["requests"], d["district"]))
    for d in out:
        d["district_name"] = region_name(d["district"])
    return out


def _by_dataset(con: sqlite3.Connection, t: str, month: str, shared_names: list[str]) -> list:
    rows = {
        name: {"dataset": name, "requests": 0, "rows": 0, "consumers": 0} for name in shared_names
    }
    for r in con.execute(
        _cte(t)
        + """
        SELECT dataset, count(*) AS requests, COALESCE(sum(rows), 0) AS rows,
               count(DISTINCT consumer) AS consumers
        FROM used WHERE dataset IS NOT NULL GROUP BY dataset
        """,
        {"month": month},
    ):
        rows[r["dataset"]] = dict(r)
    out: list[dict[str, Any]] = sorted(
        rows.values(), key=lambda d: (-int(d["requests"]), str(d["dataset"]))
    )
    for d in out:
        entry = BY_NAME.get(str(d["dataset"]))
        d["title"] = entry.title if entry else None
        d["sharing"] = CLASS_NAMES[entry.sharing][0] if entry else None
    return out


def _ranking(con: sqlite3.Connection, t: str, month: str) -> list[dict]:
    return [
        dict(r)
        for r in con.execute(
            _cte(t)
            + """
            SELECT RANK() OVER (ORDER BY count(*) DESC) AS rank, consumer AS org,
                   count(*) AS requests, COALESCE(sum(rows), 0) AS rows
            FROM used GROUP BY consumer ORDER BY rank, org
            """,
            {"month": month},
        )
    ]


def usage(
    con: sqlite3.Connection,
    *,
    month: str | None = None,
    months: int = 12,
    shared_only: bool = True,
) -> dict:
    """Usage of the sharing service in ``month`` (``YYYY-MM``, Beijing time; default the
    current one), with a trend over the ``months`` months ending with it.

    Returns ``month``, ``start``/``end`` (UTC bounds), ``rates`` (see the module
    docstring), ``by_org``, ``by_district``, ``by_dataset``, ``by_month`` (oldest
    first) and ``ranking``. ``shared_only=False``: every successful read, export
    or query of a partner is a use, whatever it names (see the module docstring).
    """
    month = month or current_month()
    start, end = month_bounds(month)
    span = months_ending(month, months)
    shared_names = shared()
    t = f"temp._usage_{uuid.uuid4().hex[:12]}"
    names = {f"d{i}": n for i, n in enumerate(shared_names)}
    shared_sql = f"a.dataset IN ({', '.join(f':{k}' for k in names) or 'NULL'})"
    con.execute(
        _COLLECT.format(t=t, shared=shared_sql if shared_only else "1"),
        {"start": month_bounds(span[0])[0], "end": end, **names},
    )
    try:
        con.execute(f"CREATE INDEX {t}_month ON {t.split('.')[1]} (month)")
        trend = _trend(con, t, span, shared_names)
        this = trend[-1]
        rates = {
            k: this[k]
            for k in (
                "consumers_active",
                "consumers_entitled",
                "consumer_rate",
                "datasets_used",
                "datasets_shared",
                "dataset_rate",
            )
        }
        return {
            "month": month,
            "start": start,
            "end": end,
            "timezone": "UTC+08:00",
            "requests": this["requests"],
            "rows": this["rows"],
            "rates": rates,
            "by_org": _by_org(con, t, month, start, end),
            "by_district": _by_district(con, t, month, end),
            "by_dataset": _by_dataset(con, t, month, shared_names),
            "by_month": trend,
            "ranking": _ranking(con, t, month),
        }
    finally:
        con.execute(f"DROP TABLE IF EXISTS {t}")


_COLUMNS: dict[str, tuple[str, ...]] = {
    "rates": ("indicator", "value"),
    "by_org": (
        "org",
        "roles",
        "accounts",
        "keys",
        "grants",
        "requests",
        "rows",
        "refused",
        "datasets_used",
        "datasets",
    ),
    "by_district": ("district", "district_name", "requests", "rows", "consumers"),
    "by_dataset": ("dataset", "title", "sharing", "requests", "rows", "consumers"),
    "by_month": (
        "month",
        "requests",
        "rows",
        "consumers_active",
        "consumers_entitled",
        "consumer_rate",
        "datasets_used",
        "datasets_shared",
        "dataset_rate",
    ),
    "ranking": ("rank", "org", "requests", "rows"),
}


def usage_rows(result: dict, table: str) -> tuple[list[tuple[str, str]], list[dict]]:
    """One table of a ``usage`` result as (columns, flat rows) for ``web.export``.

    ``columns`` are ``(key, Chinese label)`` pairs; ``table`` is one of ``TABLES``.
    Lists (a consumer's datasets) are joined with ``、``; rates stay fractions.

    >>> cols, rows = usage_rows({"rates": {"consumer_rate": 0.5}}, "rates")
    >>> cols[0], rows[0]
    (('indicator', '指标'), {'indicator': '共享对象使用率', 'value': 0.5})
    """
    if table not in _COLUMNS:
        raise ValueError(f"未知的统计表「{table}」：应为 {'、'.join(_COLUMNS)}")
    columns = [(k, LABELS[k][0]) for k in _COLUMNS[table]]
    if table == "rates":
        rows = [{"indicator": LABELS[k][0], "value": v} for k, v in result["rates"].items()]
        return columns, rows
    rows = []
    for r in result[table]:
        flat = {k: r.get(k) for k in _COLUMNS[table]}
        if isinstance(flat.get("datasets"), list):
            flat["datasets"] = "、".join(flat["datasets"])
        rows.append(flat)
    return columns, rows
