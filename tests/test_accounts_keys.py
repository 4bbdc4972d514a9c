"""API keys and the command line (``crossinvest users`` / ``keys``); see test_accounts.py."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from typer.testing import CliRunner

from crossinvest.access import accounts
from crossinvest.access.accounts import (
    AccountError,
    KeyRefused,
    authenticate,
    create_key,
    create_user,
    get_user,
    key_user,
    list_keys,
    revoke_key,
    update_user,
)
from crossinvest.access.store import open_store
from tests.test_accounts import CHEAP, PASSWORD, Clock, attempt, store_bytes


@pytest.fixture(autouse=True)
def cheap_hasher(monkeypatch):
    monkeypatch.setattr(accounts, "HASHER", CHEAP)  # see test_accounts.py


@pytest.fixture
def con(home):
    c = open_store(home)
    yield c
    c.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


# --- API keys ----------------------------------------------------------------------


def test_key_shown_once_only_hash_stored(con, home, clock):
    create_user(con, "fgw-api", role="api", org="市发展改革委")
    plaintext, key = create_key(
        con, "fgw-api", name="项目库", datasets=["stats", "enterprise"], clock=clock
    )
    assert plaintext.startswith(f"cik_{key.prefix}_") and len(key.prefix) == 8
    assert plaintext.encode() not in store_bytes(home)
    row = con.execute("SELECT prefix, key_hash FROM api_keys").fetchone()
    assert row["key_hash"] == hashlib.sha256(plaintext.encode()).hexdigest()
    assert "key" not in key.as_json() and plaintext not in json.dumps(key.as_json())
    assert key.datasets == ("stats", "enterprise")
    assert key.expires_at == (clock.t + dt.timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
    user, found = key_user(con, plaintext, clock=clock)
    assert user.username == "fgw-api" and found.id == key.id and found.last_used_at is not None
    assert [k.id for k in list_keys(con, "fgw-api")] == [key.id]
    # a second key never equals the first
    other, _ = create_key(con, "fgw-api", name="第二个", datasets=["stats"], clock=clock)
    assert other != plaintext


def test_keys_refused(con, clock):
    create_user(con, "root", role="admin", password=PASSWORD)
    create_user(con, "kwapi", role="api")
    plaintext, key = create_key(con, "kwapi", name="x", datasets=["stats"], days=1, clock=clock)

    def code(text, c=clock):
        with pytest.raises(KeyRefused) as e:
            key_user(con, text, clock=c)
        assert e.value.message and e.value.message_en
        return e.value.code

    assert code("cik_nothere_" + "a" * 43) == "unknown"
    assert code(plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")) == "unknown"
    assert code("") == "unknown" and code(None) == "unknown"
    assert code(plaintext.replace("cik_", "xyz_")) == "unknown"
    later = Clock()
    later.t = clock.t + dt.timedelta(days=1)
    assert code(plaintext, later) == "expired"
    update_user(con, "kwapi", disabled=True)
    assert code(plaintext) == "disabled"
    update_user(con, "kwapi", disabled=False)
    assert key_user(con, plaintext, clock=clock)[1].id == key.id
    revoked = revoke_key(con, key.prefix, clock=clock)
    assert revoked.revoked_at is not None and revoked.status() == "revoked"
    assert code(plaintext) == "revoked"
    assert revoke_key(con, str(key.id)).revoked_at == revoked.revoked_at  # idempotent
    with pytest.raises(AccountError):
        revoke_key(con, "zzzzzzzz")


def test_key_validation(con):
    create_user(con, "kvapi", role="api")
    bad = [
        ({"datasets": ["nonsense"]}, "未知数据集"),
        ({"datasets": []}, "至少指定一个数据集"),
        ({"datasets": ["stats"], "days": 0}, "有效期"),
        ({"datasets": ["stats"], "name": "  "}, "名称"),
    ]
    for kwargs, fragment in bad:
        args = {"name": "n", **kwargs}
        with pytest.raises(AccountError) as e:
            create_key(con, "kvapi", **args)
        assert fragment in e.value.message
    with pytest.raises(AccountError):
        create_key(con, "nobody", name="n", datasets=["stats"])
    assert list_keys(con) == []


def test_key_last_used_written_at_most_once_a_minute(con, clock):
    create_user(con, "luapi", role="api")
    plaintext, key = create_key(con, "luapi", name="n", datasets=["stats"], clock=clock)
    used = lambda: con.execute("SELECT last_used_at FROM api_keys").fetchone()[0]  # noqa: E731
    key_user(con, plaintext, clock=clock)
    first = used()
    clock.advance(59)
    key_user(con, plaintext, clock=clock)
    assert used() == first
    clock.advance(1)
    key_user(con, plaintext, clock=clock)
    assert used() > first


# --- command line ------------------------------------------------------------------


@pytest.fixture
def cli(home):
    from crossinvest.access.cli_users import keys_app, users_app

    runner = CliRunner()

    def run(app_name, *args, input=None):  # noqa: A002 - click's parameter name
        app = users_app if app_name == "users" else keys_app
        return runner.invoke(
            app, list(args), input=input, env={"CROSSINVEST_HOME": str(home.root), "COLUMNS": "200"}
        )

    return run


def test_cli_users(cli, home, clock):
    r = cli("users", "add", "root", "--role", "admin", "--password-stdin", input=PASSWORD + "\n")
    assert r.exit_code == 0, r.output
    r = cli(
        "users", "add", "pudong", "--role", "district", "--district", "310115", "--name", "浦东新区投资办",
        input="Lujiazui-2026\nLujiazui-2026\n",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "Lujiazui-2026" not in r.stdout
    r = cli("users", "add", "api1", "--role", "api", "--org", "市商务委")
    assert r.exit_code == 0, r.output
    r = cli("users", "list", "--json")
    listed = {u["username"]: u for u in json.loads(r.stdout)}
    assert set(listed) == {"root", "pudong", "api1"}
    assert listed["pudong"]["districts"] == ["310115"] and listed["api1"]["org"] == "市商务委"
    r = cli("users", "list")
    assert r.exit_code == 0 and "浦东新区投资办" in r.stdout

    con = open_store(home)
    try:
        assert authenticate(con, "pudong", "Lujiazui-2026", ip=None, settings={}).role == "district"
        for _ in range(3):
            attempt(con, "pudong", "wrong-wrong-1", None, login_lock_after=3)
        assert get_user(con, "pudong").locked_until is not None
    finally:
        con.close()
    r = cli("users", "unlock", "pudong")
    assert r.exit_code == 0, r.output
    r = cli("users", "set", "pudong", "--disable")
    assert r.exit_code == 0, r.output
    r = cli("users", "set", "pudong", "--enable", "--district", "310115", "--district", "310104")
    assert r.exit_code == 0, r.output
    r = cli("users", "passwd", "pudong", "--password-stdin", input="Xujiahui-2027\n")
    assert r.exit_code == 0, r.output
    con = open_store(home)
    try:
        u = get_user(con, "pudong")
        assert (u.disabled, u.locked_until, u.districts) == (False, None, ("310104", "310115"))
        assert (
            authenticate(con, "pudong", "Xujiahui-2027", ip=None, settings={}).username == "pudong"
        )
    finally:
        con.close()


@pytest.mark.parametrize(
    ("args", "stdin", "fragment"),
    [
        (("users", "add", "x", "--role", "admin"), None, "用户名"),
        (("users", "add", "someone", "--role", "boss"), None, "未知角色"),
        (("users", "add", "someone", "--role", "district", "--district", "110101"), None, "上海"),
        (("users", "add", "someone", "--role", "analyst", "--password-stdin"), "short\n", "太短"),
        (("users", "add", "someone", "--role", "analyst"), "Long-enough-1\nDifferent-2x\n", None),
        (("users", "set", "ghost", "--name", "n"), None, "没有用户"),
        (("users", "set", "ghost"), None, "没有要修改"),
        (("users", "passwd", "ghost", "--password-stdin"), "Long-enough-1\n", "没有用户"),
        (("users", "unlock", "ghost"), None, "没有用户"),
        (("keys", "add", "ghost", "--name", "n", "--dataset", "stats"), None, "没有用户"),
        (("keys", "list", "--user", "ghost"), None, "没有用户"),
        (("keys", "revoke", "nokey123"), None, "没有密钥"),
    ],
)
def test_cli_errors_exit_2_with_one_line(cli, args, stdin, fragment):
    r = cli(*args, input=stdin)
    assert r.exit_code != 0
    if fragment is not None:
        assert r.exit_code == 2, r.output
        err = r.stderr.strip()
        assert fragment in err and "\n" not in err and "Traceback" not in r.output
    assert cli("users", "list", "--json").stdout.strip() == "[]"


def test_cli_keys(cli, home, clock):
    cli("users", "add", "api1", "--role", "api")
    r = cli(
        "keys", "add", "api1", "--name", "项目库", "--dataset", "stats", "--dataset", "nonsense"
    )
    assert r.exit_code == 2 and "未知数据集" in r.stderr
    r = cli("keys", "add", "api1", "--name", "项目库", "--dataset", "stats", "--days", "30")
    assert r.exit_code == 0, r.output
    plaintext = r.stdout.strip()
    assert plaintext.startswith("cik_") and "只显示这一次" in r.stderr
    con = open_store(home)
    try:
        user, key = key_user(con, plaintext)
        assert user.username == "api1" and key.datasets == ("stats",)
    finally:
        con.close()
    r = cli("keys", "list", "--json")
    (listed,) = json.loads(r.stdout)
    assert listed["prefix"] == key.prefix and listed["status"] == "active"
    assert plaintext not in r.stdout
    r = cli("keys", "list")
    assert r.exit_code == 0 and key.prefix in r.stdout and plaintext not in r.stdout
    r = cli("keys", "revoke", key.prefix)
    assert r.exit_code == 0, r.output
    r = cli("keys", "list", "--user", "api1", "--json")
    assert json.loads(r.stdout)[0]["status"] == "revoked"
    con = open_store(home)
    try:
        with pytest.raises(KeyRefused) as e:
            key_user(con, plaintext)
        assert e.value.code == "revoked"
    finally:
        con.close()


def test_cli_changes_leave_audit_rows(cli, home):
    pytest.importorskip("crossinvest.access.audit")
    cli("users", "add", "api1", "--role", "api")
    cli("users", "set", "api1", "--name", "商务委接口")
    plaintext = cli("keys", "add", "api1", "--name", "n", "--dataset", "stats").stdout.strip()
    cli("keys", "revoke", plaintext.split("_")[1])
    cli("users", "list")  # reading changes nothing and is not an admin change
    con = open_store(home)
    try:
        rows = con.execute("SELECT event, username, via, detail FROM audit ORDER BY id").fetchall()
    finally:
        con.close()
    actions = [json.loads(r["detail"])["action"] for r in rows]
    assert actions == ["user_add", "user_set", "key_add", "key_revoke"]
    import getpass

    who = f"cli:{getpass.getuser()}"  # the operating-system account that ran the command
    assert {(r["event"], r["username"], r["via"]) for r in rows} == {("admin", who, "cli")}
    assert all(plaintext not in (r["detail"] or "") for r in rows)
    assert plaintext.startswith("cik_")


def test_a_revocation_from_another_process_holds_on_the_next_request(con, home):
    """The server memoises who a key is; a revocation committed elsewhere ends that at once."""
    from types import SimpleNamespace

    from crossinvest.access.service import AccessService

    create_user(con, "kwapi2", role="api")
    plaintext, key = create_key(con, "kwapi2", name="x", datasets=["stats"], days=1)
    service = AccessService(home)
    try:

        def ask():  # type: ignore[no-untyped-def]
            request = SimpleNamespace(
                headers={"authorization": f"Bearer {plaintext}"},
                cookies={},
                state=SimpleNamespace(),
            )
            return service.resolution(request)

        assert ask().refusal is None and ask().actor.id == "kwapi2"  # the second from the memo
        revoke_key(con, key.prefix)  # the command line's connection, not the server's
        assert ask().refusal is not None and ask().refusal[0] == "revoked"
    finally:
        service.close()
