"""The audit log: hash chain, append-only, masking, search, tamper detection, CLI."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import sqlite3
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from crossinvest.access import audit, audit_verify
from crossinvest.access.actor import Actor, Scope
from crossinvest.access.store import open_store, store_path
from crossinvest.config import Home

ID_X = "11010119900307123X"  # an 18-character resident ID shape ending in X
ID_9 = "310105198902207470"
FULL_ID = re.compile(r"\d{17}[\dXx]")

ACTOR = Actor(
    id="pudong",
    name="浦东新区投资办",
    role="district",
    scope=Scope(districts=frozenset({"310115", "310101"})),
    org="浦东新区投资办",
    user_id=7,
    via="session",
)


@pytest.fixture
def con(home: Home):
    c = open_store(home)
    yield c
    c.close()


def _raw(home: Home) -> sqlite3.Connection:
    """A connection behind the application's back (no row factory, no helpers)."""
    return sqlite3.connect(store_path(home), isolation_level=None)


def _my_hash(row: dict) -> str:
    # The test's own statement of the rule: sha256(prev_hash + sorted compact JSON of the fields).
    fields = {k: row[k] for k in row if k != "hash"}
    text = json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((row["prev_hash"] + text).encode()).hexdigest()


def _all(con) -> list[dict]:
    return [dict(r) for r in con.execute("SELECT * FROM audit ORDER BY id")]


# --- writing ---------------------------------------------------------------------------


def test_chain_links_every_row_and_hash_covers_fields(con):
    ids = [audit.record(con, "read", username=f"u{i}", rows=i, status=200) for i in range(5)]
    audit.record_many(
        con, [{"event": "query", "username": "x", "rows": 3}, {"event": "export", "rows": 4}]
    )
    rows = _all(con)
    assert ids == [1, 2, 3, 4, 5]
    assert [r["id"] for r in rows] == list(range(1, 8))
    assert rows[0]["prev_hash"] == "0" * 64
    for before, after in zip(rows, rows[1:], strict=False):
        assert after["prev_hash"] == before["hash"]
    for r in rows:
        assert r["hash"] == _my_hash(r)
    assert [r["event"] for r in rows[-2:]] == ["query", "export"]
    assert audit_verify.verify(con) == audit_verify.VerifyResult(True, 7, head=rows[-1]["hash"])


def test_fields_from_actor_and_explicit_override(con):
    audit.record(con, "read", actor=ACTOR, path="/api/v1/stats", dataset="stats", rows=12)
    audit.record(con, "export", actor=ACTOR, org="另一个单位", via="key", status="200")
    a, b = _all(con)
    assert (a["user_id"], a["username"], a["role"], a["org"], a["via"]) == (
        7,
        "pudong",
        "district",
        "浦东新区投资办",
        "session",
    )
    assert a["districts"] == "310101,310115"
    assert (a["path"], a["dataset"], a["rows"], a["status"]) == ("/api/v1/stats", "stats", 12, None)
    assert (b["org"], b["via"], b["status"], b["username"]) == ("另一个单位", "key", 200, "pudong")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", a["at"])


def test_record_joins_the_callers_transaction(con):
    from crossinvest.access.store import transaction

    audit.record(con, "read")
    with pytest.raises(RuntimeError), transaction(con):
        audit.record(con, "grant", username="boss", dataset="enterprise")
        audit.record_many(con, [{"event": "admin"}, {"event": "revoke"}])
        raise RuntimeError("the grant failed")
    assert [r["event"] for r in _all(con)] == ["read"]
    with transaction(con):
        audit.record(con, "grant", username="boss", dataset="enterprise")
        audit.record(con, "admin", username="boss")
    assert [r["event"] for r in _all(con)] == ["read", "grant", "admin"]
    assert audit_verify.verify(con).ok


def test_unknown_event_and_bad_fields_are_refused_and_nothing_is_written(con):
    with pytest.raises(ValueError, match="未知的审计事件"):
        audit.record(con, "peek")
    with pytest.raises(ValueError, match="整数"):
        audit.record(con, "read", rows="many")
    with pytest.raises(ValueError, match="UTC"):
        audit.record(con, "read", at="2026-11-01 10:00")
    with pytest.raises(ValueError):  # one bad row: the whole batch is refused
        audit.record_many(con, [{"event": "read"}, {"event": "nope"}])
    with pytest.raises(TypeError):
        audit.record_many(con, [{"event": "read", "colour": "red"}])
    assert con.execute("SELECT count(*) FROM audit").fetchone()[0] == 0


def test_resident_ids_never_stored_in_full(home: Home, con):
    audit.record(
        con,
        "query",
        path=f"/api/v1/persons/{ID_9}",
        query=f"q={ID_X}&owner={ID_9.lower()}",
        purpose=f"核查 {ID_9} 的出资",
        detail={"id": ID_X, ID_9: [ID_X, int(ID_9)], "n": 12345678901234567890},
        # a failed sign-in records whatever was typed as the username
        username=ID_X,
        org=f"{ID_9} 个体工商户",
    )
    row = _all(con)[0]
    assert row["username"] == "110101************"
    assert row["org"] == "310105************ 个体工商户"
    assert row["path"] == "/api/v1/persons/310105************"
    assert row["query"] == "q=110101************&owner=310105************"
    assert row["purpose"] == "核查 310105************ 的出资"
    detail = json.loads(row["detail"])
    assert detail["id"] == "110101************"
    assert detail["310105************"] == ["110101************", "310105************"]
    assert detail["n"] == 12345678901234567890  # 20 digits: not an ID, kept
    # nowhere in the file, not only in the row
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = store_path(home).read_bytes()
    assert ID_9.encode() not in data and ID_X.encode() not in data
    assert audit_verify.verify(con).ok


ids = st.builds(
    lambda division, born, seq, check: f"{division}{born:%Y%m%d}{seq}{check}",
    st.text(alphabet="0123456789", min_size=6, max_size=6),
    st.dates(min_value=dt.date(1880, 1, 1), max_value=dt.date(2029, 12, 31)),
    st.text(alphabet="0123456789", min_size=3, max_size=3),
    st.sampled_from("0123456789Xx"),
)
around = st.text(alphabet="王芳 =&/，:abcXyz", max_size=6)


@given(token=ids, before=around, after=around)
def test_mask_hides_any_id_shaped_token(token, before, after):
    masked = audit.mask_ids(f"{before}{token}{after}")
    assert token not in masked
    assert masked == f"{before}{token[:6]}{'*' * 12}{after}"
    assert not FULL_ID.search(masked)


@given(st.text(alphabet="0123456789", min_size=19, max_size=25))
def test_mask_leaves_longer_digit_runs(digits):
    assert audit.mask_ids(digits) == digits


@given(st.text(alphabet="0123456789", min_size=6, max_size=6), st.integers(13, 99))
def test_mask_leaves_18_digits_without_a_birth_date(division, month):
    code = f"{division}1990{month}01123X"  # no such month: e.g. an all-digit USCC
    assert audit.mask_ids(code) == code


# --- append-only -----------------------------------------------------------------------


def test_update_and_delete_refused_through_the_application(home: Home, con):
    audit.record(con, "read", rows=1)
    audit.record(con, "read", rows=2)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE audit SET rows = 99 WHERE id = 1")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM audit WHERE id = 2")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM audit")
    assert [r["rows"] for r in _all(con)] == [1, 2]
    # and a second connection, opened the application's way, is refused the same
    other = open_store(home)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        other.execute("UPDATE audit SET org = 'x'")
    other.close()


def _seed(con, n: int = 6) -> list[dict]:
    for i in range(n):
        audit.record(con, "read", username=f"u{i}", rows=i, status=200)
    return _all(con)


def _behind_back(home: Home, *sql: str) -> None:
    raw = _raw(home)
    raw.execute("DROP TRIGGER audit_no_update")
    raw.execute("DROP TRIGGER audit_no_delete")
    for s in sql:
        raw.execute(s)
    raw.close()


def test_verify_detects_a_changed_row(home: Home, con):
    _seed(con)
    _behind_back(home, "UPDATE audit SET rows = 1000 WHERE id = 3")
    result = audit_verify.verify(con)
    assert (result.ok, result.first_broken_id, result.rows) == (False, 3, 2)
    assert "改动" in result.reason


def test_verify_detects_a_changed_row_whose_hash_was_recomputed(home: Home, con):
    rows = _seed(con)
    forged = {**rows[2], "rows": 1000}
    forged["hash"] = _my_hash(forged)
    _behind_back(home, f"UPDATE audit SET rows = 1000, hash = '{forged['hash']}' WHERE id = 3")
    result = audit_verify.verify(con)
    assert (result.ok, result.first_broken_id) == (False, 4)  # the next row no longer links


def test_verify_detects_deleted_rows_middle_head_and_tail(home: Home, tmp_path):
    for where, broken in (("id = 3", 3), ("id = 1", 1), ("id >= 5", 5)):
        h = Home(tmp_path / where.replace(" ", "").replace(">=", "ge").replace("=", "eq"))
        c = open_store(h)
        _seed(c)
        assert audit_verify.verify(c).ok
        _behind_back(h, f"DELETE FROM audit WHERE {where}")
        result = audit_verify.verify(c)
        assert (result.ok, result.first_broken_id) == (False, broken), where
        c.close()


def test_appending_after_a_tail_deletion_keeps_the_gap_visible(home: Home, con):
    _seed(con, 4)
    _behind_back(home, "DELETE FROM audit WHERE id = 4")
    audit.record(con, "read")
    assert [r["id"] for r in _all(con)] == [1, 2, 3, 5]  # the id is never reused
    assert audit_verify.verify(con).first_broken_id == 4


def test_concurrent_writers_keep_one_chain(home: Home):
    def write(name: str) -> None:
        c = open_store(home)
        for i in range(150):
            audit.record(c, "read", username=name, rows=i)
        c.close()

    open_store(home).close()  # migrate once, before the threads race
    threads = [threading.Thread(target=write, args=(f"w{k}",)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    c = open_store(home)
    assert c.execute("SELECT count(*), max(id) FROM audit").fetchone()[:] == (450, 450)
    assert audit_verify.verify(c).ok
    c.close()


# --- search ----------------------------------------------------------------------------


def _corpus(con) -> list[dict]:
    """Rows over Beijing-date edges, several users, events and datasets."""
    spec = [
        ("2026-10-31T15:59:59Z", "read", "Alice", "发改委", "stats", "/api/v1/stats"),
        ("2026-10-31T16:00:00Z", "export", "alice", "发改委", "enterprise", "/api/v1/export"),
        ("2026-11-10T08:00:00Z", "query", "bob", "浦东办", "enterprise", "/api/v1/enterprises"),
        ("2026-11-15T23:00:00Z", "sign_in", "bob", "浦东办", None, "/login"),
        ("2026-11-30T15:59:59Z", "read", "carol", "商务委", "stats", "/stats/inbound"),
        ("2026-11-30T16:00:00Z", "read", "alice", "发改委", "definitions", "/api/v1/definitions"),
    ]
    rows = []
    for at, event, user, org, ds, path in spec:
        rows.append(
            {"at": at, "event": event, "username": user, "org": org, "dataset": ds, "path": path}
        )
    audit.record_many(con, rows)
    for i, r in enumerate(rows, start=1):
        r["id"] = i
    return rows


def _beijing_date(at: str) -> dt.date:
    t = dt.datetime.fromisoformat(at.replace("Z", "+00:00")) + dt.timedelta(hours=8)
    return t.date()


def test_search_filters(con):
    rows = _corpus(con)

    def ids(**kw):
        return [r["id"] for r in audit.search(con, **kw)]

    def expect(pred):
        return [r["id"] for r in reversed(rows) if pred(r)]

    assert ids() == expect(lambda r: True)
    assert ids(user="ALICE") == expect(lambda r: r["username"].lower() == "alice")
    assert ids(org="浦东办") == expect(lambda r: r["org"] == "浦东办")
    assert ids(event="read,export") == expect(lambda r: r["event"] in ("read", "export"))
    assert ids(event=["query"]) == expect(lambda r: r["event"] == "query")
    assert ids(dataset="enterprise") == expect(lambda r: r["dataset"] == "enterprise")
    assert ids(path_contains="/api/v1/e") == expect(lambda r: "/api/v1/e" in r["path"])
    nov1, nov30 = dt.date(2026, 11, 1), dt.date(2026, 11, 30)
    assert ids(since="2026-11-01", until="2026-11-30") == expect(
        lambda r: nov1 <= _beijing_date(r["at"]) <= nov30
    )
    assert ids(since=nov1, until=nov1) == expect(lambda r: _beijing_date(r["at"]) == nov1)
    assert ids(until="2026-11-30T15:59:59Z") == expect(lambda r: r["at"] <= "2026-11-30T15:59:59Z")
    assert ids(user="alice", event="export", since="2026-11-01") == [2]
    with pytest.raises(ValueError, match="日期"):
        audit.search(con, since="last tuesday")


def test_search_pages_by_key_without_gaps_or_repeats(con):
    for i in range(23):
        audit.record(con, "read" if i % 3 else "query", username=f"u{i % 4}", rows=i)
    seen, before = [], None
    while True:
        page = audit.search(con, event="read", limit=5, before_id=before)
        if not page:
            break
        assert len(page) <= 5
        seen += [r["id"] for r in page]
        before = page[-1]["id"]
    expected = [i + 1 for i in reversed(range(23)) if i % 3]
    assert seen == expected


def test_search_returns_detail_parsed(con):
    audit.record(con, "grant", detail={"grant": 3, "expires": "2027-01-01"})
    audit.record(con, "admin", detail="plain text")
    newest, oldest = audit.search(con)
    assert oldest["detail"] == {"expires": "2027-01-01", "grant": 3}
    assert newest["detail"] == "plain text"


def test_verify_on_an_empty_log(con):
    assert audit_verify.verify(con) == audit_verify.VerifyResult(True, 0)


# --- command line ----------------------------------------------------------------------


def _cli(*args: str):
    from crossinvest.cli import app

    return CliRunner().invoke(app, list(args))


def test_cli_search_verify_and_tamper(home: Home, con):
    _corpus(con)
    r = _cli("audit", "search", "--user", "alice", "--json")
    assert r.exit_code == 0, r.output
    assert [x["id"] for x in json.loads(r.stdout)] == [6, 2, 1]
    r = _cli("audit", "search", "--since", "2026-11-01", "--until", "2026-11-30")
    assert r.exit_code == 0 and "审计日志" in r.stdout and "4 条" in r.stdout
    r = _cli("audit", "search", "--since", "yesterday-ish")
    assert r.exit_code == 2 and "日期" in r.stderr
    r = _cli("audit", "verify", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["rows"] == 6
    _behind_back(home, "UPDATE audit SET username = 'mallory' WHERE id = 2")
    r = _cli("audit", "verify")
    assert r.exit_code == 1
    assert "第 2 行" in r.stderr


def test_cli_export_csv_and_xlsx(home: Home, con, tmp_path):
    _corpus(con)
    audit.record(con, "query", username="dave", query=f"id={ID_9}")
    out = tmp_path / "审计.csv"
    r = _cli("audit", "export", str(out), "--event", "read,query")
    assert r.exit_code == 0, r.output
    text = out.read_bytes().decode("utf-8-sig")
    table = list(csv.DictReader(io.StringIO(text)))
    assert [int(t["编号"]) for t in table] == [7, 6, 5, 3, 1]
    assert ID_9 not in text and "310105************" in text
    assert {"时间", "北京时间", "散列", "前一行散列"} <= set(table[0])
    # the export itself is audited
    last = audit.search(con, limit=1)[0]
    assert (last["event"], last["dataset"], last["rows"], last["via"]) == (
        "export",
        "audit",
        5,
        "cli",
    )
    assert audit_verify.verify(con).ok

    from python_calamine import CalamineWorkbook

    xlsx = tmp_path / "audit.xlsx"
    r = _cli("audit", "export", str(xlsx), "--user", "bob", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["rows"] == 2
    sheet = CalamineWorkbook.from_path(str(xlsx)).get_sheet_by_index(0).to_python()
    assert sheet[0][0] == "编号" and len(sheet) == 3
    user_col = sheet[0].index("用户")
    assert {row[user_col] for row in sheet[1:]} == {"bob"}

    r = _cli("audit", "export", str(tmp_path / "audit.txt"))
    assert r.exit_code == 2 and ".csv" in r.stderr
