"""Signing in and sessions.

``authenticate`` checks a password (argon2id, ``accounts.HASHER``) under the
throttling rules of ``throttle.py``; ``create_session`` then gives the browser a
random token whose SHA-256 alone is stored, with the session's CSRF token.
Both are re-exported by ``accounts``.

>>> import tempfile; from pathlib import Path
>>> from crossinvest.config import Home
>>> from crossinvest.access.store import open_store
>>> from crossinvest.access.accounts import create_user
>>> con = open_store(Home(Path(tempfile.mkdtemp())))
>>> user = create_user(con, "jingan", role="analyst", password="Nanjing-Rd-1")
>>> token, csrf = create_session(con, authenticate(con, "jingan", "Nanjing-Rd-1", ip=None, settings={}))
>>> session_user(con, token)[0].username, session_user(con, token)[1] == csrf
('jingan', True)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import sqlite3
from typing import Any

from crossinvest.access import accounts, throttle
from crossinvest.access.accounts import (
    _USER_COLUMNS,
    _USER_COLUMNS_U,
    PASSWORD_MAX,
    USERNAME_RE,
    User,
    _must,
    _tx,
    _user,
)
from crossinvest.access.throttle import Clock, SignInRefused, fmt, parse, utc

SESSION_TOUCH_SECONDS = 60  # last_seen_at is written at most once a minute


# --- sign-in ---------------------------------------------------------------------


def _state(row: sqlite3.Row) -> throttle.State:
    return throttle.State(
        failures=int(row["failed_logins"] or 0),
        last_failed_at=parse(row["last_failed_at"]),
        locked_until=parse(row["locked_until"]),
    )


def _account_row(con: sqlite3.Connection, username: str) -> sqlite3.Row | None:
    if not isinstance(username, str) or not USERNAME_RE.fullmatch(username):
        return None
    return con.execute(
        f"SELECT {_USER_COLUMNS}, password_hash, failed_logins, last_failed_at"
        " FROM users WHERE username = ?",
        [username],
    ).fetchone()


def authenticate(
    con: sqlite3.Connection,
    username: str,
    password: str,
    *,
    ip: str | None,
    settings: dict[str, Any] | None,
    clock: Clock | None = None,
) -> User:
    """The account whose password this is, or ``SignInRefused``.

    Order: too many attempts from ``ip`` → ``slowed``; the account locked →
    ``locked``; too soon after its last failure → ``slowed`` (password not
    checked); wrong password → ``bad_credentials`` (or ``locked`` when this
    failure reaches the limit); right password on a disabled account →
    ``disabled``. Every attempt is recorded in ``login_attempts``.
    """
    lim = throttle.limits(settings)
    t = utc(clock)
    username = username.strip() if isinstance(username, str) else ""
    password = password if isinstance(password, str) else ""

    def refuse(outcome: str, why: SignInRefused) -> SignInRefused:
        with _tx(con):
            throttle.record_attempt(con, username, ip, t, outcome)
        return why

    refusal = throttle.ip_refusal(con, ip, t, lim)
    if refusal is not None:
        raise refuse("slowed", refusal)
    row = _account_row(con, username)
    state = _state(row) if row else throttle.unknown_state(con, username, lim)
    refusal = state.refusal(t, lim)
    if refusal is not None:
        raise refuse(refusal.code, refusal)

    # The slow part, outside any transaction: other writers need not wait for it.
    if len(password) > PASSWORD_MAX:  # no account has one; spend the same time anyway
        accounts._verify(None, password[:PASSWORD_MAX])
        ok = False
    else:
        ok = accounts._verify(row["password_hash"] if row else None, password) and row is not None
    rehashed = None
    if ok and not row["disabled"] and accounts.HASHER.check_needs_rehash(row["password_hash"]):
        rehashed = accounts._hash(password)  # the parameters changed since it was set
    with _tx(con):
        if not ok:
            throttle.record_attempt(con, username, ip, t, "bad_credentials")
            if row is None:
                after = state.failed(t, lim)
            else:  # re-read inside the lock: a concurrent failure counts too
                fresh = con.execute(
                    "SELECT failed_logins, last_failed_at, locked_until FROM users WHERE id = ?",
                    [row["id"]],
                ).fetchone()
                after = _state(fresh).failed(t, lim)
                con.execute(
                    "UPDATE users SET failed_logins = ?, last_failed_at = ?, locked_until = ?"
                    " WHERE id = ?",
                    [
                        after.failures,
                        fmt(t),
                        fmt(after.locked_until) if after.locked_until else None,
                        row["id"],
                    ],
                )
            why = throttle.bad_credentials()
            if after.locked_until is not None:
                why = throttle.locked(int((after.locked_until - t).total_seconds()))
        elif row["disabled"]:
            throttle.record_attempt(con, username, ip, t, "disabled")
            why = throttle.disabled()
        else:
            throttle.record_attempt(con, username, ip, t, "ok")
            con.execute(
                "UPDATE users SET failed_logins = 0, last_failed_at = NULL, locked_until = NULL,"
                " last_login_at = ? WHERE id = ?",
                [fmt(t), row["id"]],
            )
            if rehashed is not None:
                con.execute(
                    "UPDATE users SET password_hash = ? WHERE id = ?", [rehashed, row["id"]]
                )
            return _must(con, int(row["id"]))
    raise why


# --- sessions --------------------------------------------------------------------


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def create_session(
    con: sqlite3.Connection,
    user: User,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
    hours: float = 8,
    clock: Clock | None = None,
) -> tuple[str, str]:
    """Start a session for ``user``; return ``(token, csrf_token)``.

    The token goes into the cookie and is shown nowhere else; the store keeps
    its SHA-256 only.
    """
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    t = utc(clock)
    with _tx(con):
        con.execute(
            "INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at,"
            " last_seen_at, ip, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                _sha256(token),
                user.id,
                csrf,
                fmt(t),
                fmt(t + dt.timedelta(hours=hours)),
                fmt(t),
                ip[:64] if ip else None,
                user_agent[:300] if user_agent else None,
            ],
        )
    return token, csrf


def session_user(
    con: sqlite3.Connection, token: str | None, *, clock: Clock | None = None
) -> tuple[User, str] | None:
    """``(user, csrf_token)`` of a live session, or None (unknown, expired, user disabled)."""
    if not token or not isinstance(token, str) or len(token) > 200:
        return None
    digest = _sha256(token)
    row = con.execute(
        f"SELECT s.expires_at, s.last_seen_at, s.csrf, {_USER_COLUMNS_U}"
        " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?",
        [digest],
    ).fetchone()
    if row is None:
        return None
    t = utc(clock)
    expires, seen, csrf = row[0], row[1], row[2]
    user = _user(tuple(row)[3:])
    if fmt(t) >= expires:
        with _tx(con):
            con.execute("DELETE FROM sessions WHERE token_hash = ?", [digest])
        return None
    if user.disabled:
        return None
    last = parse(seen)
    if last is None or (t - last).total_seconds() >= SESSION_TOUCH_SECONDS:
        with _tx(con):
            con.execute(
                "UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?", [fmt(t), digest]
            )
    return user, csrf


def end_session(con: sqlite3.Connection, token: str | None) -> None:
    """Sign out: forget this session."""
    if token:
        with _tx(con):
            con.execute("DELETE FROM sessions WHERE token_hash = ?", [_sha256(token)])
