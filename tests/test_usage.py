"""Usage statistics: figures checked against plain Python counting over the rows inserted."""

from __future__ import annotations

import datetime as dt
import json
import random
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from crossinvest.access import audit
from crossinvest.access.catalogue import shared
from crossinvest.access.store import open_store
from crossinvest.access.usage import month_bounds, months_ending, usage, usage_rows
from crossinvest.config import Home

# (username, role, org, districts, disabled, created_at)
USERS = [
    ("pd1", "district", "浦东新区投资办", "310115", 0, "2026-01-05T00:00:00Z"),
    ("pd2", "district", "浦东新区投资办", "310115", 0, "2026-03-01T00:00:00Z"),
    ("hp", "district", "黄浦区投资办", "310101,310106", 0, "2026-02-01T00:00:00Z"),
    ("fgw", "agency", "市发改委", None, 0, "2026-01-10T00:00:00Z"),
    ("sw", "agency", "市商务委", None, 1, "2026-01-10T00:00:00Z"),  # disabled
    ("sfj", "agency", "市司法局", None, 1, "2026-01-10T00:00:00Z"),  # disabled
    ("sys-x", "api", "", None, 0, "2026-11-20T00:00:00Z"),  # no org: its username
    ("late", "agency", "新设单位", None, 0, "2026-11-30T16:00:00Z"),  # Beijing 12-01 00:00
    ("boss", "admin", "本办", None, 0, "2026-01-01T00:00:00Z"),
    ("ana", "analyst", "本办", None, 0, "2026-01-01T00:00:00Z"),
]
PARTNER = {"district", "agency", "api"}
EVENTS = ["read", "export", "query", "sign_in", "grant", "read", "read"]
STATUSES = [200, 200, 200, 304, 399, 400, 403, 500, None]
DATASETS = ["stats", "enterprise", "definitions", "batches", "no_such", None, "stats"]
# times over Oct–Dec 2026 including the Beijing month edges
EDGES = [
    "2026-09-30T15:59:59Z",
    "2026-09-30T16:00:00Z",
    "2026-10-31T15:59:59Z",
    "2026-10-31T16:00:00Z",
    "2026-11-30T15:59:59Z",
    "2026-11-30T16:00:00Z",
]


def _add_users(con) -> None:
    for i, (name, role, org, districts, disabled, created) in enumerate(USERS, start=1):
        con.execute(
            "INSERT INTO users (id, username, display_name, role, org, districts, disabled,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [i, name, name, role, org, districts, disabled, created, created],
        )


def _user(name: str) -> dict:
    i, u = next((i, u) for i, u in enumerate(USERS, start=1) if u[0] == name)
    return {"user_id": i, "username": u[0], "role": u[1], "org": u[2], "districts": u[3]}


def _random_at(rnd: random.Random) -> str:
    if rnd.random() < 0.25:
        return rnd.choice(EDGES)
    start = dt.datetime(2026, 9, 25, tzinfo=dt.UTC)
    t = start + dt.timedelta(seconds=rnd.randrange(0, 100 * 86400))
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _rows(seed: int, n: int) -> list[dict]:
    rnd = random.Random(seed)
    names = [u[0] for u in USERS]
    out = []
    for _ in range(n):
        name = rnd.choice(names)
        created = next(u[5] for u in USERS if u[0] == name)
        out.append(
            {
                **_user(name),
                "event": rnd.choice(EVENTS),
                "status": rnd.choice(STATUSES),
                "dataset": rnd.choice(DATASETS),
                "rows": rnd.choice([None, 0, 1, 7, 50, 1000]),
                "at": max(_random_at(rnd), created),  # no use before the account exists
            }
        )
    return out


# --- the oracle: plain Python, no SQL -------------------------------------------------


def _month_of(at: str) -> str:
    t = dt.datetime.fromisoformat(at.replace("Z", "+00:00")) + dt.timedelta(hours=8)
    return f"{t.year:04d}-{t.month:02d}"


def _consumer(r: dict) -> str:
    return r["org"] or r["username"]


def _is_use(r: dict, shared_only: bool = True) -> bool:
    return (
        r["role"] in PARTNER
        and r["event"] in ("read", "export", "query")
        and r["status"] is not None
        and r["status"] < 400
        and (not shared_only or r["dataset"] in shared())
    )


def _end_of(month: str) -> dt.datetime:
    y, m = int(month[:4]), int(month[5:])
    y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return dt.datetime(y, m, 1) - dt.timedelta(hours=8)  # Beijing midnight, in UTC


def _entitled_accounts(month: str) -> set[str]:
    end = _end_of(month)
    return {
        org or name
        for name, role, org, _d, disabled, created in USERS
        if role in PARTNER
        and not disabled
        and dt.datetime.fromisoformat(created.replace("Z", "")) < end
    }


def _oracle(rows: list[dict], month: str, shared_only: bool = True) -> dict:
    uses = [r for r in rows if _is_use(r, shared_only) and _month_of(r["at"]) == month]
    active = {_consumer(r) for r in uses}
    entitled = _entitled_accounts(month) | active
    used_ds = {r["dataset"] for r in uses} & set(shared())
    return {
        "requests": len(uses),
        "rows": sum(r["rows"] or 0 for r in uses),
        "consumers_active": len(active),
        "consumers_entitled": len(entitled),
        "consumer_rate": len(active) / len(entitled) if entitled else None,
        "datasets_used": len(used_ds),
        "datasets_shared": len(shared()),
        "dataset_rate": len(used_ds) / len(shared()),
        "uses": uses,
        "entitled": entitled,
    }


def _store(tmp: Path):
    con = open_store(Home(tmp))
    _add_users(con)
    return con


@pytest.fixture
def con(home: Home):
    c = open_store(home)
    _add_users(c)
    yield c
    c.close()


# --- the figures -------------------------------------------------------------------------


@pytest.mark.parametrize("seed, shared_only", [(1, True), (2, True), (3, False)])
def test_usage_matches_counting_by_hand(seed, shared_only):
    rows = _rows(seed, 400)
    with tempfile.TemporaryDirectory() as tmp:
        con = _store(Path(tmp))
        audit.record_many(con, rows)
        got = usage(con, month="2026-11", months=3, shared_only=shared_only)
        con.close()
    want = _oracle(rows, "2026-11", shared_only)
    uses = want["uses"]

    assert got["requests"] == want["requests"] and got["rows"] == want["rows"]
    assert got["rates"] == {k: want[k] for k in got["rates"]}

    # by consumer: requests, rows, refused, datasets
    refused = Counter(
        _consumer(r)
        for r in rows
        if r["role"] in PARTNER
        and r["event"] in ("read", "export", "query")
        and _month_of(r["at"]) == "2026-11"
        and r["status"] is not None
        and r["status"] >= 400
    )
    seen = {
        _consumer(r)
        for r in rows
        if r["role"] in PARTNER
        and r["event"] in ("read", "export", "query")
        and _month_of(r["at"]) == "2026-11"
    }
    by_org = {o["org"]: o for o in got["by_org"]}
    assert set(by_org) == want["entitled"] | seen  # zero rows for the entitled who did nothing
    for org, o in by_org.items():
        mine = [r for r in uses if _consumer(r) == org]
        assert o["requests"] == len(mine), org
        assert o["rows"] == sum(r["rows"] or 0 for r in mine), org
        assert o["refused"] == refused[org], org
        assert o["datasets"] == sorted({r["dataset"] for r in mine if r["dataset"]}), org
    accounts = Counter(
        org or name
        for name, role, org, _d, disabled, created in USERS
        if role in PARTNER and not disabled and created < "2026-11-30T16:00:00Z"
    )
    assert {k: v["accounts"] for k, v in by_org.items() if v["accounts"]} == dict(accounts)
    assert "本办" not in by_org  # staff are not consumers
    assert "新设单位" not in by_org  # its account dates from December (Beijing)

    # by dataset
    per_ds = defaultdict(list)
    for r in uses:
        if r["dataset"]:
            per_ds[r["dataset"]].append(r)
    by_ds = {d["dataset"]: d for d in got["by_dataset"]}
    assert set(by_ds) == set(per_ds) | set(shared())
    for name, d in by_ds.items():
        mine = per_ds.get(name, [])
        assert (d["requests"], d["rows"], d["consumers"]) == (
            len(mine),
            sum(r["rows"] or 0 for r in mine),
            len({_consumer(r) for r in mine}),
        ), name

    # by district: each use of a district account counts for every code it covers
    per_code = defaultdict(list)
    for r in uses:
        if r["role"] == "district":
            for code in r["districts"].split(","):
                per_code[code].append(r)
    by_code = {d["district"]: d for d in got["by_district"]}
    assert set(by_code) == {"310115", "310101", "310106"}
    for code, d in by_code.items():
        mine = per_code.get(code, [])
        assert (d["requests"], d["rows"], d["consumers"]) == (
            len(mine),
            sum(r["rows"] or 0 for r in mine),
            len({_consumer(r) for r in mine}),
        ), code
    assert by_code["310115"]["district_name"] == "浦东新区"

    # ranking: standard competition rank over requests
    counts = Counter(_consumer(r) for r in uses)
    ranking = {x["org"]: x["rank"] for x in got["ranking"]}
    assert set(ranking) == set(counts)
    for org, n in counts.items():
        assert ranking[org] == 1 + sum(1 for m in counts.values() if m > n)

    # the trend: each month as if asked on its own
    assert [m["month"] for m in got["by_month"]] == ["2026-09", "2026-10", "2026-11"]
    for m in got["by_month"]:
        w = _oracle(rows, m["month"], shared_only)
        assert {k: m[k] for k in w if k in m} == {k: w[k] for k in w if k in m}, m["month"]


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=60))
def test_rates_always_fractions_and_match_counting(seed, n):
    rows = _rows(seed, n)
    with tempfile.TemporaryDirectory() as tmp:
        con = _store(Path(tmp))
        audit.record_many(con, rows)
        got = usage(con, month="2026-10", months=2)
        con.close()
    want = _oracle(rows, "2026-10")
    assert got["rates"] == {k: want[k] for k in got["rates"]}
    for m in got["by_month"]:
        for k in ("consumer_rate", "dataset_rate"):
            assert m[k] is None or 0 <= m[k] <= 1


def test_month_boundaries_are_beijing_midnight(con):
    fgw = _user("fgw")
    edges = [
        ("2026-10-31T15:59:59Z", 1),  # Beijing 2026-10-31 23:59:59
        ("2026-10-31T16:00:00Z", 10),  # Beijing 2026-11-01 00:00:00
        ("2026-11-30T15:59:59Z", 100),  # Beijing 2026-11-30 23:59:59
        ("2026-11-30T16:00:00Z", 1000),  # Beijing 2026-12-01 00:00:00
    ]
    audit.record_many(
        con,
        [
            {**fgw, "event": "read", "status": 200, "dataset": "stats", "rows": n, "at": at}
            for at, n in edges
        ],
    )
    by_month = {m["month"]: m["rows"] for m in usage(con, month="2026-12", months=3)["by_month"]}
    assert by_month == {"2026-10": 1, "2026-11": 110, "2026-12": 1000}
    assert month_bounds("2026-11") == ("2026-10-31T16:00:00Z", "2026-11-30T16:00:00Z")
    assert months_ending("2026-01", 2) == ["2025-12", "2026-01"]
    with pytest.raises(ValueError, match="YYYY-MM"):
        usage(con, month="2026-13")


def test_staff_are_not_consumers_and_do_not_count(con):
    for name in ("boss", "ana"):
        audit.record(con, "read", **_user(name), status=200, dataset="stats", rows=5,
                     at="2026-11-05T00:00:00Z")  # fmt: skip
    got = usage(con, month="2026-11")
    assert got["requests"] == 0 and got["rows"] == 0
    r = got["rates"]
    entitled = len(_entitled_accounts("2026-11"))
    assert (r["consumers_active"], r["consumers_entitled"], r["consumer_rate"]) == (
        0,
        entitled,
        0.0,
    )
    assert r["datasets_used"] == 0 and r["dataset_rate"] == 0.0
    assert got["ranking"] == []


def test_disabled_accounts_not_entitled_unless_they_used_it(con):
    got = usage(con, month="2026-11")["rates"]
    orgs_enabled = _entitled_accounts("2026-11")
    assert "市商务委" not in orgs_enabled and "市司法局" not in orgs_enabled
    assert got["consumers_entitled"] == len(orgs_enabled)
    # a disabled account's use in the month proves it was entitled then
    audit.record(con, "export", **_user("sfj"), status=200, dataset="enterprise", rows=3,
                 at="2026-11-02T00:00:00Z")  # fmt: skip
    got = usage(con, month="2026-11")["rates"]
    assert (got["consumers_active"], got["consumers_entitled"]) == (1, len(orgs_enabled) + 1)


def test_account_created_after_month_end_not_entitled(con):
    nov = usage(con, month="2026-11", months=2)
    dec = usage(con, month="2026-12", months=1)
    assert "新设单位" not in {o["org"] for o in nov["by_org"]}
    assert "新设单位" in {o["org"] for o in dec["by_org"]}
    assert dec["rates"]["consumers_entitled"] == nov["rates"]["consumers_entitled"] + 1
    # sys-x (created 11-20) counts in November, not in October
    assert nov["by_month"][0]["consumers_entitled"] == nov["rates"]["consumers_entitled"] - 1


def test_rates_none_without_partners(home: Home):
    c = open_store(home)
    got = usage(c, month="2026-11")
    assert got["rates"]["consumer_rate"] is None
    assert got["rates"]["dataset_rate"] == 0.0 and got["rates"]["datasets_shared"] == len(shared())
    c.close()


def test_consumer_falls_back_to_account_org_and_username(con):
    # a row recorded without org: the account's org, else its username
    pd1 = _user("pd1")
    audit.record(con, "read", user_id=pd1["user_id"], username="pd1", role="district",
                 status=200, dataset="stats", rows=2, at="2026-11-03T00:00:00Z")  # fmt: skip
    audit.record(con, "query", **_user("sys-x"), status=200, dataset="enterprise", rows=4,
                 at="2026-11-25T00:00:00Z")  # fmt: skip
    got = usage(con, month="2026-11")
    by_org = {o["org"]: o for o in got["by_org"]}
    assert by_org["浦东新区投资办"]["requests"] == 1
    assert by_org["浦东新区投资办"]["accounts"] == 2
    assert by_org["sys-x"]["requests"] == 1 and by_org["sys-x"]["roles"] == "api"
    assert {d["district"]: d["requests"] for d in got["by_district"]}["310115"] == 1


def test_grants_and_keys_held_in_the_month(con):
    fgw = _user("fgw")["user_id"]
    con.execute(
        "INSERT INTO grants (user_id, dataset, granted_at, expires_at, revoked_at) VALUES"
        " (?, 'enterprise', '2026-10-01T00:00:00Z', '2027-01-01T00:00:00Z', NULL),"
        " (?, 'enterprise_money', '2026-10-01T00:00:00Z', '2026-10-20T00:00:00Z', NULL),"
        " (?, 'stats', '2026-10-01T00:00:00Z', '2027-01-01T00:00:00Z', '2026-10-15T00:00:00Z')",
        [fgw, fgw, fgw],
    )
    con.execute(
        "INSERT INTO api_keys (user_id, name, prefix, key_hash, datasets, created_at, expires_at)"
        " VALUES (?, 'k', 'ci_ab', 'h', '[\"stats\"]', '2026-11-10T00:00:00Z',"
        " '2027-11-10T00:00:00Z')",
        [fgw],
    )
    by_org = {o["org"]: o for o in usage(con, month="2026-11")["by_org"]}
    assert (by_org["市发改委"]["grants"], by_org["市发改委"]["keys"]) == (1, 1)
    by_org = {o["org"]: o for o in usage(con, month="2026-10")["by_org"]}
    assert (by_org["市发改委"]["grants"], by_org["市发改委"]["keys"]) == (3, 0)


def test_usage_rows_flatten_every_table(con):
    audit.record_many(con, _rows(5, 200))
    got = usage(con, month="2026-11", months=3)
    for name in ("rates", "by_org", "by_district", "by_dataset", "by_month", "ranking"):
        columns, rows = usage_rows(got, name)
        assert columns and all(label for _, label in columns)
        keys = {k for k, _ in columns}
        assert all(set(r) == keys for r in rows)
        assert all(not isinstance(v, (list, dict)) for r in rows for v in r.values())
    _, rates = usage_rows(got, "rates")
    assert {"共享对象使用率", "数据集使用率"} <= {r["indicator"] for r in rates}
    with pytest.raises(ValueError):
        usage_rows(got, "nope")


def test_cli_usage(home: Home, con):
    rows = _rows(9, 150)
    audit.record_many(con, rows)
    from crossinvest.cli import app

    r = CliRunner().invoke(app, ["audit", "usage", "--month", "2026-11", "--months", "2", "--json"])
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    want = _oracle(rows, "2026-11")
    assert got["rates"]["consumers_active"] == want["consumers_active"]
    assert got["requests"] == want["requests"]
    r = CliRunner().invoke(app, ["audit", "usage", "--month", "2026-11"])
    assert r.exit_code == 0 and "共享对象使用率" in r.stdout and "使用排名" in r.stdout
    r = CliRunner().invoke(app, ["audit", "usage", "--month", "2026-11", "--all-reads", "--json"])
    assert json.loads(r.stdout)["requests"] == _oracle(rows, "2026-11", False)["requests"]
    r = CliRunner().invoke(app, ["audit", "usage", "--month", "11/2026"])
    assert r.exit_code == 2 and "YYYY-MM" in r.stderr


def test_page_views_without_a_shared_dataset_are_not_uses(con):
    fgw = _user("fgw")
    audit.record_many(
        con,
        [
            {**fgw, "event": "read", "status": 200, "path": "/", "at": "2026-11-02T01:00:00Z"},
            {**fgw, "event": "read", "status": 200, "dataset": "catalogue", "path": "/catalogue",
             "at": "2026-11-02T01:01:00Z"},
        ],
    )  # fmt: skip
    strict = usage(con, month="2026-11", months=1)
    loose = usage(con, month="2026-11", months=1, shared_only=False)
    assert (strict["requests"], strict["rates"]["consumers_active"]) == (0, 0)
    assert (loose["requests"], loose["rates"]["consumers_active"]) == (2, 1)
    assert loose["rates"]["datasets_used"] == 0  # "catalogue" is not a shared dataset
    by_org = {o["org"]: o for o in strict["by_org"]}
    assert by_org["市发改委"]["requests"] == 0 and by_org["市发改委"]["refused"] == 0
