"""Accounts, sign-in throttling, sessions, API keys and ``crossinvest users`` / ``keys``."""

from __future__ import annotations

import datetime as dt
import hashlib
import string

import pytest
from argon2 import PasswordHasher
from hypothesis import given, settings
from hypothesis import strategies as st

from crossinvest.access import accounts
from crossinvest.access.accounts import (
    AccountError,
    SignInRefused,
    authenticate,
    check_password,
    check_username,
    create_session,
    create_user,
    end_session,
    get_user,
    list_users,
    session_user,
    set_password,
    unlock_user,
    update_user,
)
from crossinvest.access.store import open_store, store_path

PASSWORD = "Bund-Walk-2026"
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(autouse=True)
def cheap_hasher(monkeypatch):
    # Production parameters cost ~0.2 s a hash; the rules under test do not depend on them.
    monkeypatch.setattr(accounts, "HASHER", CHEAP)


@pytest.fixture
def con(home):
    c = open_store(home)
    yield c
    c.close()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = dt.datetime(2026, 3, 2, 9, 0, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def store_bytes(home) -> bytes:
    """Everything SQLite has written for the store (main file and write-ahead log)."""
    path = store_path(home)
    data = path.read_bytes()
    for extra in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-journal")):
        if extra.exists():
            data += extra.read_bytes()
    return data


def attempt(con, username, password, clock, ip=None, **settings_):
    """The refusal code of a sign-in, or "ok"."""
    try:
        authenticate(con, username, password, ip=ip, settings=settings_, clock=clock)
    except SignInRefused as e:
        return e.code
    return "ok"


# --- passwords and hashing ---------------------------------------------------------


def test_password_is_hashed_with_argon2id_never_stored(con, home, clock):
    secret = "Zhangjiang-Hi-Tech-77"
    create_user(con, "zjhk", role="analyst", password=secret)
    stored = con.execute("SELECT password_hash FROM users WHERE username = 'zjhk'").fetchone()[0]
    assert stored.startswith("$argon2id$")
    blob = store_bytes(home)
    assert secret.encode() not in blob and secret.encode("utf-16-le") not in blob
    assert authenticate(con, "zjhk", secret, ip=None, settings={}, clock=clock).username == "zjhk"
    with pytest.raises(SignInRefused) as e:
        authenticate(con, "zjhk", secret + "x", ip=None, settings={}, clock=clock)
    assert e.value.code == "bad_credentials"


def test_rehash_when_parameters_change(con, monkeypatch, clock):
    create_user(con, "rehash", role="analyst", password=PASSWORD)
    old = con.execute("SELECT password_hash FROM users WHERE username = 'rehash'").fetchone()[0]
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    assert stronger.check_needs_rehash(old)
    monkeypatch.setattr(accounts, "HASHER", stronger)
    authenticate(con, "rehash", PASSWORD, ip=None, settings={}, clock=clock)
    new = con.execute("SELECT password_hash FROM users WHERE username = 'rehash'").fetchone()[0]
    assert new != old and not stronger.check_needs_rehash(new)
    assert stronger.verify(new, PASSWORD)


@pytest.mark.parametrize(
    ("password", "fragment"),
    [
        ("Ab1!", "太短"),
        ("Abcdefg12", "太短"),  # 9 characters
        ("xx-huangpu-2026", "用户名"),
        ("XX-HUANGPU-2026", "用户名"),  # case does not hide it
        ("abcdefghijkl", "两类"),
        ("12345678901234", "两类"),
        ("!@#$%^&*()_+-=", "两类"),
        ("a" + "1" * 300, "太长"),
    ],
)
def test_password_policy(con, password, fragment):
    with pytest.raises(AccountError) as e:
        create_user(con, "huangpu", role="analyst", password=password)
    assert fragment in e.value.message and e.value.message_en
    assert "\n" not in e.value.message
    assert get_user(con, "huangpu") is None


@pytest.mark.parametrize(
    "password", ["abcdefghi1", "ABCDEFGHI!", "1234567890-", "上海市黄浦区外滩2026"]
)
def test_password_policy_accepts(password):
    check_password(password, "huangpu")


ALLOWED = set(string.ascii_letters + string.digits + "_.-")


@given(st.text(max_size=40))
def test_username_rule(name):
    ok = 3 <= len(name) <= 32 and all(c in ALLOWED for c in name)
    try:
        check_username(name)
    except AccountError:
        assert not ok
    else:
        assert ok


@given(st.text(alphabet=sorted(ALLOWED), min_size=3, max_size=32))
def test_username_rule_accepts_all_allowed(name):
    assert check_username(name) == name


@given(
    letters=st.text(alphabet=string.ascii_letters, min_size=1, max_size=20),
    digits=st.text(alphabet=string.digits, min_size=1, max_size=20),
    symbols=st.text(alphabet="!@#$%^&*-_=+. ", max_size=5),
)
def test_password_two_kinds_long_enough_accepted(letters, digits, symbols):
    password = letters + symbols + digits
    username = "qq_user"  # contains "_" which the alphabets above can make only with other text
    if len(password) >= 10 and username not in password.lower():
        check_password(password, username)
    else:
        with pytest.raises(AccountError):
            check_password(password, username)


@given(st.text(alphabet=string.ascii_letters, min_size=10, max_size=40))
def test_password_one_kind_refused(password):
    with pytest.raises(AccountError) as e:
        check_password(password, "nobody-here")
    assert "两类" in e.value.message


@given(
    username=st.text(alphabet=string.ascii_lowercase + string.digits, min_size=3, max_size=12),
    before=st.text(alphabet="!#%1234", max_size=6),
    after=st.text(alphabet="XYZ789?", max_size=6),
)
@settings(max_examples=50)
def test_password_containing_username_refused(username, before, after):
    password = before + username.upper() + after + "Aa1!xxxxxx"
    with pytest.raises(AccountError):
        check_password(password, username)


# --- accounts ----------------------------------------------------------------------


def test_roles_and_districts(con):
    u = create_user(
        con, "pudong", role="district", districts=["310151", "310115", "310115"], password=PASSWORD
    )
    assert u.districts == ("310115", "310151")
    cases = [
        ({"role": "boss"}, "未知角色"),
        ({"role": "district"}, "至少要指定一个区"),
        ({"role": "district", "districts": ["110101"]}, "不是上海市现行的区代码"),  # 北京东城
        (
            {"role": "district", "districts": ["310103"]},
            "不是上海市现行的区代码",
        ),  # 卢湾, merged 2011
        (
            {"role": "district", "districts": ["310000"]},
            "不是上海市现行的区代码",
        ),  # the city itself
        ({"role": "district", "districts": ["31011"]}, "不是上海市现行的区代码"),
        ({"role": "agency", "districts": ["310115"]}, "只有区用户"),
        ({"role": "analyst"}, "需要设置密码"),
    ]
    for kwargs, fragment in cases:
        password = None if kwargs == {"role": "analyst"} else PASSWORD
        with pytest.raises(AccountError) as e:
            create_user(con, "someone", password=password, **kwargs)
        assert fragment in e.value.message, kwargs
    assert [x.username for x in list_users(con)] == ["pudong"]


def test_duplicate_username_any_case(con):
    create_user(con, "FGW", role="agency", password=PASSWORD, org="市发展改革委")
    with pytest.raises(AccountError) as e:
        create_user(con, "fgw", role="agency", password=PASSWORD)
    assert "已存在" in e.value.message
    assert get_user(con, "Fgw").org == "市发展改革委"


def test_api_account_without_password_cannot_sign_in(con, clock):
    u = create_user(con, "partner-api", role="api")
    assert u.role == "api" and u.display_name == "partner-api"
    assert attempt(con, "partner-api", "", clock) == "bad_credentials"
    assert attempt(con, "partner-api", PASSWORD, clock) == "bad_credentials"


def test_update_user(con, clock):
    create_user(con, "root", role="admin", password=PASSWORD)
    create_user(con, "xuhui", role="district", districts=["310104"], password=PASSWORD)
    u = update_user(con, "xuhui", display_name="徐汇区投资办", org="徐汇区")
    assert (u.display_name, u.org, u.districts) == ("徐汇区投资办", "徐汇区", ("310104",))
    u = update_user(con, "xuhui", districts=["310104", "310105"])
    assert u.districts == ("310104", "310105")
    u = update_user(con, "xuhui", role="agency")  # leaving the district role drops the districts
    assert (u.role, u.districts) == ("agency", None)
    with pytest.raises(AccountError):
        update_user(con, "xuhui", role="district")  # needs districts again
    u = update_user(con, "xuhui", org=None)
    assert u.org is None and u.display_name == "徐汇区投资办"
    with pytest.raises(AccountError) as e:
        update_user(con, "root", disabled=True)
    assert "唯一" in e.value.message
    with pytest.raises(AccountError):
        update_user(con, "root", role="analyst")
    create_user(con, "root2", role="admin", password=PASSWORD)
    assert update_user(con, "root", disabled=True).disabled
    with pytest.raises(AccountError) as e:
        update_user(con, "ghost", display_name="x")
    assert "没有用户" in e.value.message
    u = update_user(con, "xuhui")  # nothing given: nothing changes
    assert (u.role, u.display_name, u.disabled) == ("agency", "徐汇区投资办", False)


# --- throttling --------------------------------------------------------------------


def test_lockout_after_ten_failures_even_with_right_password(con, clock):
    create_user(con, "target", role="analyst", password=PASSWORD)
    codes = []
    for _ in range(10):
        clock.advance(61)  # wait out each slow-down, so only the count matters
        codes.append(attempt(con, "target", "wrong-password-1", clock))
    assert codes == ["bad_credentials"] * 9 + ["locked"]
    clock.advance(60)
    with pytest.raises(SignInRefused) as e:
        authenticate(con, "target", PASSWORD, ip=None, settings={}, clock=clock)
    assert e.value.code == "locked" and "锁定" in e.value.message
    assert e.value.retry_after == 30 * 60 - 60
    assert get_user(con, "target").locked_until is not None
    clock.advance(30 * 60 - 60 - 1)  # one second before the lock runs out
    assert attempt(con, "target", PASSWORD, clock) == "locked"
    clock.advance(1)
    assert attempt(con, "target", PASSWORD, clock) == "ok"
    assert get_user(con, "target").locked_until is None


def test_unlock_clears_lock_and_failures(con, clock):
    create_user(con, "target", role="analyst", password=PASSWORD)
    for _ in range(3):
        clock.advance(61)
        attempt(con, "target", "nope-nope-1", clock, login_lock_after=3)
    assert attempt(con, "target", PASSWORD, clock, login_lock_after=3) == "locked"
    unlock_user(con, "target")
    row = con.execute(
        "SELECT failed_logins, locked_until FROM users WHERE username='target'"
    ).fetchone()
    assert tuple(row) == (0, None)
    user = authenticate(
        con, "target", PASSWORD, ip=None, settings={"login_lock_after": 3}, clock=clock
    )
    assert user.last_login_at == clock.t.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_slowed_with_retry_after_and_password_not_checked(con, clock):
    create_user(con, "slow", role="analyst", password=PASSWORD)
    assert [attempt(con, "slow", "bad-bad-bad-1", clock) for _ in range(3)] == [
        "bad_credentials"
    ] * 3
    with pytest.raises(SignInRefused) as e:
        authenticate(
            con, "slow", PASSWORD, ip=None, settings={}, clock=clock
        )  # right, but too soon
    assert e.value.code == "slowed" and e.value.retry_after == 1 and "秒后" in e.value.message
    failures = con.execute("SELECT failed_logins FROM users WHERE username='slow'").fetchone()[0]
    assert failures == 3  # a refused attempt is not a failure
    clock.advance(1)
    assert attempt(con, "slow", "bad-bad-bad-1", clock) == "bad_credentials"  # 4th failure
    with pytest.raises(SignInRefused) as e:
        authenticate(con, "slow", "bad-bad-bad-1", ip=None, settings={}, clock=clock)
    assert e.value.retry_after == 2
    clock.advance(1)
    assert attempt(con, "slow", PASSWORD, clock) == "slowed"
    clock.advance(1)
    assert attempt(con, "slow", PASSWORD, clock) == "ok"  # success resets the count
    assert attempt(con, "slow", "bad-bad-bad-1", clock) == "bad_credentials"
    assert attempt(con, "slow", PASSWORD, clock) == "ok"


def test_delay_is_capped(con, clock):
    create_user(con, "cap", role="analyst", password=PASSWORD)
    for _ in range(9):
        clock.advance(200)
        attempt(con, "cap", "bad-bad-bad-1", clock)
    with pytest.raises(SignInRefused) as e:
        authenticate(con, "cap", PASSWORD, ip=None, settings={}, clock=clock)
    assert e.value.code == "slowed" and e.value.retry_after == 60  # 2**6 = 64, capped


def test_per_ip_throttle(con, clock):
    create_user(con, "victim", role="analyst", password=PASSWORD)
    limit = {"login_ip_per_minute": 5}
    for i in range(5):
        assert (
            attempt(con, f"guess{i}", "whatever-1", clock, ip="10.0.0.9", **limit)
            == "bad_credentials"
        )
        clock.advance(1)
    # the right password from that address is still refused, without being checked
    assert attempt(con, "victim", PASSWORD, clock, ip="10.0.0.9", **limit) == "slowed"
    assert attempt(con, "victim", PASSWORD, clock, ip="10.0.0.10", **limit) == "ok"
    with pytest.raises(SignInRefused) as e:
        authenticate(con, "victim", PASSWORD, ip="10.0.0.9", settings=limit, clock=clock)
    assert 1 <= e.value.retry_after <= 60
    clock.advance(61)
    assert attempt(con, "victim", PASSWORD, clock, ip="10.0.0.9", **limit) == "ok"


def test_default_ip_limit_is_thirty(con, clock):
    codes = [attempt(con, f"u{i:03d}", "whatever-1", clock, ip="10.1.1.1") for i in range(31)]
    assert codes == ["bad_credentials"] * 30 + ["slowed"]


def test_unknown_user_indistinguishable(con, clock, monkeypatch):
    create_user(con, "real", role="analyst", password=PASSWORD)
    calls = []

    class Counting(PasswordHasher):
        def verify(self, hash, password):  # noqa: A002 - argon2's own parameter name
            calls.append(hash)
            return super().verify(hash, password)

    monkeypatch.setattr(accounts, "HASHER", Counting(time_cost=1, memory_cost=1024, parallelism=1))
    messages = []
    for name in ("real", "ghost"):
        with pytest.raises(SignInRefused) as e:
            authenticate(con, name, "Wrong-password-9", ip=None, settings={}, clock=clock)
        messages.append((e.value.code, e.value.message, e.value.message_en))
    assert messages[0] == messages[1]
    assert len(calls) == 2  # the unknown name is checked against a hash too
    # and it is slowed and locked by the same sequence of attempts
    seqs = {}
    for name in ("real2", "ghost2"):
        if name == "real2":
            create_user(con, name, role="analyst", password=PASSWORD)
        c = Clock()
        seq = []
        for step in [0, 0, 0, 0, 1, 0, 2, 4, 8, 16, 32, 60, 0, 60, 1800]:
            c.advance(step)
            seq.append(attempt(con, name, "Wrong-password-9", c))
        seqs[name] = seq
    assert seqs["real2"] == seqs["ghost2"]
    assert "slowed" in seqs["real2"] and "locked" in seqs["real2"]


def test_disabled_account(con, clock):
    create_user(con, "root", role="admin", password=PASSWORD)
    create_user(con, "gone", role="agency", password=PASSWORD)
    update_user(con, "gone", disabled=True)
    assert attempt(con, "gone", PASSWORD, clock) == "disabled"
    assert attempt(con, "gone", "Wrong-password-9", clock) == "bad_credentials"  # says nothing more
    update_user(con, "gone", disabled=False)
    assert attempt(con, "gone", PASSWORD, clock) == "ok"


def test_every_attempt_recorded(con, clock):
    create_user(con, "rec", role="analyst", password=PASSWORD)
    outcomes = []
    for password in ["Wrong-password-9"] * 4 + [PASSWORD]:
        outcomes.append(attempt(con, "REC", password, clock, ip="192.0.2.1"))
    clock.advance(10)
    outcomes.append(attempt(con, "rec", PASSWORD, clock, ip="192.0.2.1"))
    rows = con.execute(
        "SELECT username, ip, ok, outcome FROM login_attempts ORDER BY id"
    ).fetchall()
    assert [r["outcome"] for r in rows] == outcomes
    assert [r["ok"] for r in rows] == [int(o == "ok") for o in outcomes]
    assert {r["username"] for r in rows} == {"rec"} and {r["ip"] for r in rows} == {"192.0.2.1"}
    assert outcomes[3] == "slowed" and outcomes[-1] == "ok"


# --- sessions ----------------------------------------------------------------------


def test_sessions(con, home, clock):
    create_user(con, "root", role="admin", password=PASSWORD)
    user = create_user(con, "sess", role="analyst", password=PASSWORD)
    token, csrf = create_session(
        con, user, ip="192.0.2.7", user_agent="pytest", hours=8, clock=clock
    )
    assert token != csrf and len(token) >= 40
    stored = con.execute("SELECT token_hash, csrf FROM sessions").fetchone()
    assert stored["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token.encode() not in store_bytes(home)
    found = session_user(con, token, clock=clock)
    assert found is not None and found[0].username == "sess" and found[1] == csrf
    assert session_user(con, token + "x", clock=clock) is None
    assert session_user(con, "", clock=clock) is None

    seen = lambda: con.execute("SELECT last_seen_at FROM sessions").fetchone()[0]  # noqa: E731
    first = seen()
    clock.advance(30)
    session_user(con, token, clock=clock)
    assert seen() == first  # not written again within a minute
    clock.advance(31)
    session_user(con, token, clock=clock)
    assert seen() > first

    clock.advance(8 * 3600)
    assert session_user(con, token, clock=clock) is None  # expired
    assert con.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0


def test_disabling_or_new_password_ends_sessions(con, clock):
    create_user(con, "root", role="admin", password=PASSWORD)
    user = create_user(con, "sess2", role="agency", password=PASSWORD)
    a, _ = create_session(con, user, clock=clock)
    b, _ = create_session(con, user, clock=clock)
    update_user(con, "sess2", disabled=True)
    assert session_user(con, a, clock=clock) is None and session_user(con, b, clock=clock) is None
    update_user(con, "sess2", disabled=False)
    assert session_user(con, a, clock=clock) is None  # ended, not just hidden
    c, _ = create_session(con, get_user(con, "sess2"), clock=clock)
    # a session row whose user was disabled behind the application's back is refused too
    con.execute("UPDATE users SET disabled = 1 WHERE username = 'sess2'")
    assert session_user(con, c, clock=clock) is None
    con.execute("UPDATE users SET disabled = 0 WHERE username = 'sess2'")
    assert session_user(con, c, clock=clock) is not None
    set_password(con, "sess2", "Another-pass-42")
    assert session_user(con, c, clock=clock) is None
    d, _ = create_session(con, get_user(con, "sess2"), clock=clock)
    end_session(con, d)
    assert session_user(con, d, clock=clock) is None
