"""Sign-in throttling: slowed after a few failures, locked after many, per account and per IP.

The rules (settings keys in ``THROTTLE_DEFAULTS``, merged into the home's settings):

* after ``login_slow_after`` consecutive failures of one account, each further
  attempt must come at least ``2 ** (n - login_slow_after)`` seconds (at most
  ``login_delay_cap_seconds``) after the last failure, else it is refused as
  ``slowed`` without the password being looked at;
* at ``login_lock_after`` consecutive failures the account is locked for
  ``login_lock_minutes``, even against the right password (an administrator's
  ``unlock_user`` ends it early); when a lock runs out the count starts again;
* more than ``login_ip_per_minute`` attempts from one address within a minute:
  ``slowed``, whatever the account.

An unknown username gets exactly the same treatment: its state is replayed from
the failures recorded in ``login_attempts`` (``replay``), so that neither the
answer nor its timing says whether an account exists.

Times are whole-second UTC datetimes; ``Clock`` makes them injectable.

>>> delays = [delay_seconds(n, slow_after=3, cap=60) for n in range(0, 11)]
>>> delays
[0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60]
"""

from __future__ import annotations

import datetime as dt
import math
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

Clock = Callable[[], dt.datetime]
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # the store's (store.now); sorts as text

THROTTLE_DEFAULTS: dict[str, int] = {
    "login_slow_after": 3,
    "login_lock_after": 10,
    "login_lock_minutes": 30,
    "login_ip_per_minute": 30,
    "login_delay_cap_seconds": 60,
}

OUTCOMES = ("ok", "bad_credentials", "slowed", "locked", "disabled")


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def utc(clock: Clock | None = None) -> dt.datetime:
    """The current time from ``clock`` (default: the system's), UTC, whole seconds."""
    t = (clock or system_clock)()
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC).replace(microsecond=0)


def fmt(t: dt.datetime) -> str:
    """``2026-01-02T03:04:05Z``, as ``store.now()`` writes it."""
    return t.astimezone(dt.UTC).strftime(TIME_FORMAT)


def parse(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    return dt.datetime.strptime(text, TIME_FORMAT).replace(tzinfo=dt.UTC)


class SignInRefused(Exception):
    """A sign-in that did not succeed.

    ``code`` is ``bad_credentials``, ``slowed``, ``locked`` or ``disabled``;
    ``retry_after`` (seconds) is set for ``slowed`` and ``locked``.
    """

    def __init__(self, code: str, message: str, message_en: str, retry_after: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.message_en = message_en
        self.retry_after = retry_after


def bad_credentials() -> SignInRefused:
    return SignInRefused(
        "bad_credentials",
        "用户名或密码不正确，请重新输入。",
        "Wrong username or password.",
    )


def slowed(seconds: int) -> SignInRefused:
    return SignInRefused(
        "slowed",
        f"登录尝试过于频繁，请 {seconds} 秒后再试。",
        f"Too many sign-in attempts: try again in {seconds} s.",
        seconds,
    )


def locked(seconds: int) -> SignInRefused:
    minutes = max(1, math.ceil(seconds / 60))
    return SignInRefused(
        "locked",
        f"连续登录失败次数过多，账户已锁定，请 {minutes} 分钟后再试或请管理员解锁。",
        f"Too many failed sign-ins: the account is locked for {minutes} min"
        " (or ask an administrator to unlock it).",
        seconds,
    )


def disabled() -> SignInRefused:
    return SignInRefused(
        "disabled",
        "该账户已停用，请联系管理员。",
        "This account is disabled: ask an administrator.",
    )


def limits(settings: dict[str, Any] | None) -> dict[str, int]:
    """The throttle settings, defaults filled in."""
    given = settings or {}
    return {
        k: int(given.get(k, v) if given.get(k) is not None else v)
        for k, v in THROTTLE_DEFAULTS.items()
    }


def delay_seconds(failures: int, *, slow_after: int, cap: int) -> int:
    """How long after the last failure the next attempt must wait."""
    if failures < slow_after:
        return 0
    return min(cap, 2 ** (failures - slow_after))


@dataclass(frozen=True)
class State:
    """An account's run of failures: how many, the last one, and the lock if any."""

    failures: int = 0
    last_failed_at: dt.datetime | None = None
    locked_until: dt.datetime | None = None

    def at(self, t: dt.datetime) -> State:
        """This state as seen at ``t``: a lock that has run out starts the count again."""
        if self.locked_until is not None and t >= self.locked_until:
            return State()
        return self

    def refusal(self, t: dt.datetime, lim: dict[str, int]) -> SignInRefused | None:
        """Why an attempt at ``t`` is refused before its password is checked, if it is."""
        s = self.at(t)
        if s.locked_until is not None:
            return locked(_seconds(s.locked_until - t))
        wait = delay_seconds(
            s.failures, slow_after=lim["login_slow_after"], cap=lim["login_delay_cap_seconds"]
        )
        if wait and s.last_failed_at is not None:
            ready = s.last_failed_at + dt.timedelta(seconds=wait)
            if t < ready:
                return slowed(_seconds(ready - t))
        return None

    def failed(self, t: dt.datetime, lim: dict[str, int]) -> State:
        """The state after a wrong password at ``t``."""
        s = self.at(t)
        n = s.failures + 1
        lock = None
        if n >= lim["login_lock_after"]:
            lock = t + dt.timedelta(minutes=lim["login_lock_minutes"])
        return replace(s, failures=n, last_failed_at=t, locked_until=lock)


def _seconds(delta: dt.timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))


def replay(failures: Iterable[dt.datetime], lim: dict[str, int]) -> State:
    """The state an account would be in after these recorded failures (oldest first).

    Only attempts that got as far as the password are recorded as failures, so
    replaying them reproduces the account's state exactly.
    """
    state = State()
    for t in failures:
        state = state.failed(t, lim)
    return state


def unknown_state(con: sqlite3.Connection, username: str, lim: dict[str, int]) -> State:
    """The replayed state of a username that has no account."""
    rows = con.execute(
        "SELECT at FROM (SELECT at, id FROM login_attempts WHERE username = ?"
        " AND outcome = 'bad_credentials' ORDER BY at DESC, id DESC LIMIT 200) ORDER BY at, id",
        [attempt_name(username)],
    ).fetchall()
    return replay((parse(r[0]) for r in rows), lim)  # type: ignore[misc]


def ip_refusal(
    con: sqlite3.Connection, ip: str | None, t: dt.datetime, lim: dict[str, int]
) -> SignInRefused | None:
    """``slowed`` if ``ip`` has made too many attempts in the minute before ``t``."""
    if not ip:
        return None
    since = fmt(t - dt.timedelta(seconds=60))
    n, oldest = con.execute(
        "SELECT count(*), min(at) FROM login_attempts WHERE ip = ? AND at > ?", [ip, since]
    ).fetchone()
    if n < lim["login_ip_per_minute"]:
        return None
    return slowed(_seconds(parse(oldest) + dt.timedelta(seconds=60) - t))  # type: ignore[operator]


def attempt_name(username: str) -> str:
    """How a typed username is recorded: lower case (accounts compare without case), capped."""
    return (username or "").strip().lower()[:64]


def record_attempt(
    con: sqlite3.Connection, username: str, ip: str | None, t: dt.datetime, outcome: str
) -> None:
    """One row of ``login_attempts`` (the caller holds the transaction)."""
    con.execute(
        "INSERT INTO login_attempts (username, ip, at, ok, outcome) VALUES (?, ?, ?, ?, ?)",
        [attempt_name(username), (ip or None) and ip[:64], fmt(t), int(outcome == "ok"), outcome],
    )
