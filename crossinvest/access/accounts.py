"""Accounts of the sharing service: users, passwords, sign-in and sessions.

Passwords are hashed with argon2id (``argon2.PasswordHasher``) and re-hashed at
the next sign-in when the parameters change. Sign-in is throttled per account and
per address (``throttle.py``); an unknown username is checked against a dummy
hash and throttled the same way, so nothing tells which usernames exist.

A session is a random token the browser keeps in a cookie; the store keeps only
its SHA-256, with the session's CSRF token. Sign-in and sessions live in
``signin.py`` and API keys in ``keys.py``; both are re-exported here
(``authenticate``, ``session_user``, ``create_key``, ``key_user``, …), so callers
need one module.

Every function takes the store's connection (``store.open_store``); the ones that
write group their writes in one ``BEGIN IMMEDIATE`` transaction, or join the
caller's if one is open. Time-dependent functions take ``clock`` (tests).

>>> import tempfile; from pathlib import Path
>>> from crossinvest.config import Home
>>> from crossinvest.access.store import open_store
>>> con = open_store(Home(Path(tempfile.mkdtemp())))
>>> u = create_user(con, "pudong", role="district", districts=["310115"], password="Lujiazui-2026!")
>>> u.role, u.districts
('district', ('310115',))
>>> get_user(con, "PUDONG").username
'pudong'
"""

from __future__ import annotations

import contextlib
import re
import secrets
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from crossinvest.access import throttle
from crossinvest.access.actor import ROLE_NAMES
from crossinvest.access.store import transaction
from crossinvest.access.throttle import SignInRefused, fmt, utc

__all__ = [
    "ACCOUNT_DEFAULTS",
    "ROLES",
    "AccountError",
    "SignInRefused",
    "User",
    "check_districts",
    "check_password",
    "check_username",
    "create_user",
    "end_sessions",
    "get_user",
    "list_users",
    "set_password",
    "unlock_user",
    "update_user",
]

# Roles an account may have (``actor.ROLES`` also knows viewer and anonymous,
# which are not accounts).
ROLES = ("admin", "analyst", "district", "agency", "api")

# Settings read by sign-in (merged into config.DEFAULT_SETTINGS by the lead).
ACCOUNT_DEFAULTS: dict[str, Any] = {**throttle.THROTTLE_DEFAULTS}

USERNAME_RE = re.compile(r"[A-Za-z0-9_.-]{3,32}")
PASSWORD_MIN = 10
PASSWORD_MAX = 256  # argon2 takes any length; this stops a megabyte "password"

# The hasher in use; tests swap in a cheap one. Parameters are argon2-cffi's
# RFC 9106 "low memory" profile (argon2id, t=3, m=64 MiB, p=4).
HASHER = PasswordHasher()
_dummy: dict[tuple, str] = {}


class AccountError(ValueError):
    """A change to accounts that cannot be made; ``message`` is one Chinese line saying how to fix it."""

    def __init__(self, message: str, message_en: str):
        super().__init__(message)
        self.message = message
        self.message_en = message_en


@dataclass(frozen=True)
class User:
    """One account (never carries its password hash)."""

    id: int
    username: str
    display_name: str
    role: str
    org: str | None
    districts: tuple[str, ...] | None
    disabled: bool
    locked_until: str | None
    last_login_at: str | None
    created_at: str

    def as_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["districts"] = None if self.districts is None else list(self.districts)
        d["role_name"] = ROLE_NAMES.get(self.role, (self.role, self.role))[0]
        return d


_USER_COLUMNS = (
    "id, username, display_name, role, org, districts, disabled, locked_until,"
    " last_login_at, created_at"
)

_USER_COLUMNS_U = ", ".join("u." + c.strip() for c in _USER_COLUMNS.split(","))


def _user(row: sqlite3.Row | tuple) -> User:
    (uid, username, display_name, role, org, districts, disabled, locked_until, last, created) = (
        tuple(row)[:10]
    )
    return User(
        id=int(uid),
        username=username,
        display_name=display_name,
        role=role,
        org=org,
        districts=tuple(districts.split(",")) if districts else None,
        disabled=bool(disabled),
        locked_until=locked_until,
        last_login_at=last,
        created_at=created,
    )


@contextlib.contextmanager
def _tx(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction, or the caller's if one is already open."""
    if con.in_transaction:
        yield con
    else:
        with transaction(con):
            yield con


# --- validation ------------------------------------------------------------------


def check_username(username: str) -> str:
    """``username`` if it is 3–32 characters of letters, digits, ``_``, ``.`` and ``-``."""
    if not isinstance(username, str) or not USERNAME_RE.fullmatch(username):
        raise AccountError(
            f"用户名「{username}」不合要求：应为 3 至 32 个英文字母、数字或 _ . - 字符",
            "username must be 3-32 characters of A-Z, a-z, 0-9, _ . -",
        )
    return username


def check_password(password: str, username: str) -> None:
    """Raise ``AccountError`` unless ``password`` meets the policy.

    At least 10 characters, not containing the username, and at least two kinds
    of letters, digits and other symbols.

    >>> check_password("Shanghai2026", "pudong")
    >>> check_password("pudong-2026", "pudong")
    Traceback (most recent call last):
    ...
    crossinvest.access.accounts.AccountError: 密码不能包含用户名，请换一个
    """
    if not isinstance(password, str) or len(password) < PASSWORD_MIN:
        raise AccountError(
            f"密码太短：至少 {PASSWORD_MIN} 个字符",
            f"password too short: at least {PASSWORD_MIN} characters",
        )
    if len(password) > PASSWORD_MAX:
        raise AccountError(
            f"密码太长：至多 {PASSWORD_MAX} 个字符", f"password too long: at most {PASSWORD_MAX}"
        )
    if username and username.lower() in password.lower():
        raise AccountError("密码不能包含用户名，请换一个", "password must not contain the username")
    kinds = (
        any(c.isalpha() for c in password)
        + any(c.isdigit() for c in password)
        + any(not c.isalnum() for c in password)
    )
    if kinds < 2:
        raise AccountError(
            "密码过于简单：应至少包含字母、数字、符号中的两类",
            "password needs at least two of letters, digits and symbols",
        )


def _shanghai_districts() -> dict[str, str]:
    from crossinvest.reference.regions import region_rows

    return {
        r["code"]: r["name"]
        for r in region_rows()
        if r["code"].startswith("31") and r["level"] == "county" and r["is_current"]
    }


def check_districts(role: str, districts: Iterable[str] | None) -> tuple[str, ...] | None:
    """The normalised districts of an account of ``role`` (sorted, unique), or None.

    A district account needs at least one current Shanghai district code
    (GB/T 2260, e.g. 310115 浦东新区); other roles have none.
    """
    if role not in ROLES:
        raise AccountError(
            f"未知角色「{role}」：应为 {'、'.join(ROLES)} 之一",
            f"unknown role {role!r}: one of {', '.join(ROLES)}",
        )
    codes = sorted({str(c).strip() for c in districts or () if str(c).strip()})
    if role != "district":
        if codes:
            raise AccountError(
                f"只有区用户（district）才能指定区，角色「{role}」不能带 --district",
                "only district accounts have districts",
            )
        return None
    if not codes:
        raise AccountError(
            "区用户至少要指定一个区代码（如 --district 310115 浦东新区）",
            "a district account needs at least one district code",
        )
    known = _shanghai_districts()
    for code in codes:
        if code not in known:
            raise AccountError(
                f"「{code}」不是上海市现行的区代码：应为 6 位代码，如 310115（浦东新区）",
                f"{code!r} is not a current Shanghai district code (e.g. 310115)",
            )
    return tuple(codes)


def _clean(text: str | None, what: str, limit: int = 100) -> str | None:
    if text is None:
        return None
    text = " ".join(str(text).split())
    if len(text) > limit:
        raise AccountError(f"{what}太长：至多 {limit} 个字符", f"{what} longer than {limit}")
    return text or None


# --- passwords -------------------------------------------------------------------


def _hash(password: str) -> str:
    return HASHER.hash(password)


def _dummy_hash() -> str:
    """A hash nobody's password matches, made with the current parameters (timing)."""
    key = (HASHER.time_cost, HASHER.memory_cost, HASHER.parallelism, HASHER.hash_len)
    if key not in _dummy:
        _dummy[key] = HASHER.hash(secrets.token_urlsafe(24))
    return _dummy[key]


def _verify(hashed: str | None, password: str) -> bool:
    try:
        return HASHER.verify(hashed or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False


# --- users -----------------------------------------------------------------------


def get_user(con: sqlite3.Connection, username_or_id: str | int) -> User | None:
    """The account with this username (any case) or id (an ``int``), or None."""
    if isinstance(username_or_id, int):
        row = con.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?", [username_or_id])
    else:
        row = con.execute(
            f"SELECT {_USER_COLUMNS} FROM users WHERE username = ?", [str(username_or_id)]
        )
    found = row.fetchone()
    return _user(found) if found else None


def _must(con: sqlite3.Connection, username: str | int) -> User:
    user = get_user(con, username)
    if user is None:
        raise AccountError(
            f"没有用户「{username}」：用 crossinvest users list 查看现有用户",
            f"no user {username!r}",
        )
    return user


def list_users(con: sqlite3.Connection) -> list[User]:
    """Every account, by username."""
    rows = con.execute(f"SELECT {_USER_COLUMNS} FROM users ORDER BY username COLLATE NOCASE")
    return [_user(r) for r in rows]


def create_user(
    con: sqlite3.Connection,
    username: str,
    *,
    role: str,
    password: str | None = None,
    display_name: str | None = None,
    org: str | None = None,
    districts: Iterable[str] | None = None,
) -> User:
    """Create an account. Only ``api`` accounts may have no password (they cannot sign in)."""
    check_username(username)
    codes = check_districts(role, districts)
    if password is None:
        if role != "api":
            raise AccountError(
                "需要设置密码（只有接口客户端 api 角色可以不设密码）",
                "a password is required (only api accounts may have none)",
            )
        hashed = None
    else:
        check_password(password, username)
        hashed = _hash(password)
    name = _clean(display_name, "显示名称") or username
    at = fmt(utc())
    with _tx(con):
        if get_user(con, username) is not None:
            raise AccountError(
                f"用户名「{username}」已存在：换一个用户名，或用 crossinvest users set 修改",
                f"username {username!r} already exists",
            )
        cur = con.execute(
            "INSERT INTO users (username, display_name, role, org, districts, password_hash,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                username,
                name,
                role,
                _clean(org, "所属单位"),
                ",".join(codes) if codes else None,
                hashed,
                at,
                at,
            ],
        )
        return _must(con, int(cur.lastrowid or 0))


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()  # "not given" for update_user (None means "clear")


def _last_admin(con: sqlite3.Connection, user: User) -> bool:
    if user.role != "admin" or user.disabled:
        return False
    n = con.execute(
        "SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0 AND id <> ?", [user.id]
    ).fetchone()[0]
    return n == 0


def update_user(
    con: sqlite3.Connection,
    username: str,
    *,
    role: str = UNSET,
    display_name: str | None = UNSET,
    org: str | None = UNSET,
    districts: Iterable[str] | None = UNSET,
    disabled: bool = UNSET,
) -> User:
    """Change what is given of an account; disabling it ends its sessions.

    Changing the role away from ``district`` drops the districts unless new ones
    are given. The last enabled administrator cannot be disabled or demoted.
    """
    with _tx(con):
        user = _must(con, username)
        new_role = user.role if role is UNSET else role
        if districts is UNSET:
            districts = user.districts if new_role == "district" else None
        codes = check_districts(new_role, districts)
        off = user.disabled if disabled is UNSET else bool(disabled)
        if (new_role != "admin" or off) and _last_admin(con, user):
            raise AccountError(
                f"「{user.username}」是唯一可用的管理员，不能停用或改为其他角色：请先另设一名管理员",
                "cannot disable or demote the last enabled administrator",
            )
        name = user.display_name if display_name is UNSET else _clean(display_name, "显示名称")
        new_org = user.org if org is UNSET else _clean(org, "所属单位")
        con.execute(
            "UPDATE users SET role = ?, display_name = ?, org = ?, districts = ?, disabled = ?,"
            " updated_at = ? WHERE id = ?",
            [
                new_role,
                name or user.username,
                new_org,
                ",".join(codes) if codes else None,
                int(off),
                fmt(utc()),
                user.id,
            ],
        )
        if off and not user.disabled:
            end_sessions(con, user.id)
        return _must(con, user.id)


def set_password(con: sqlite3.Connection, username: str, password: str) -> None:
    """Set a new password (policy-checked); every session of the account ends."""
    user = _must(con, username)
    check_password(password, user.username)
    hashed = _hash(password)
    with _tx(con):
        con.execute(
            "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?",
            [hashed, fmt(utc()), user.id],
        )
        end_sessions(con, user.id)


def end_sessions(con: sqlite3.Connection, user_id: int) -> int:
    """End every session of an account; return how many there were."""
    with _tx(con):
        return con.execute("DELETE FROM sessions WHERE user_id = ?", [user_id]).rowcount


def unlock_user(con: sqlite3.Connection, username: str) -> User:
    """Clear the account's failed sign-ins and its lock."""
    with _tx(con):
        user = _must(con, username)
        con.execute(
            "UPDATE users SET failed_logins = 0, last_failed_at = NULL, locked_until = NULL,"
            " updated_at = ? WHERE id = ?",
            [fmt(utc()), user.id],
        )
        return _must(con, user.id)


# --- sign-in, sessions (signin.py) and API keys (keys.py), importable from here ------

_ELSEWHERE = {
    "authenticate": "signin",
    "create_session": "signin",
    "session_user": "signin",
    "end_session": "signin",
    "ApiKey": "keys",
    "KeyRefused": "keys",
    "create_key": "keys",
    "key_user": "keys",
    "list_keys": "keys",
    "revoke_key": "keys",
}


def __getattr__(name: str) -> Any:
    # Lazy, because those modules import this one.
    if name in _ELSEWHERE:
        import importlib

        return getattr(importlib.import_module(f"crossinvest.access.{_ELSEWHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
