"""API keys for partner systems: shown once, stored hashed, scoped to datasets, expiring.

A key reads ``cik_<prefix>_<secret>``: the 8-character prefix is stored in the
clear so that lists and logs can name a key; of the whole key only its SHA-256
is kept, so a copy of the store gives no usable key. A key acts with its
owner's rights cut to the datasets it was issued for (``Actor.key_datasets``).

>>> import tempfile; from pathlib import Path
>>> from crossinvest.config import Home
>>> from crossinvest.access.store import open_store
>>> from crossinvest.access.accounts import create_user
>>> con = open_store(Home(Path(tempfile.mkdtemp())))
>>> _ = create_user(con, "fgw-api", role="api")
>>> plaintext, key = create_key(con, "fgw-api", name="发改委项目库", datasets=["stats"])
>>> plaintext.startswith("cik_" + key.prefix + "_"), key.datasets
(True, ('stats',))
>>> key_user(con, plaintext)[0].username
'fgw-api'
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import sqlite3
import string
from dataclasses import asdict, dataclass, replace
from typing import Any

from crossinvest.access.accounts import AccountError, User, _must, _tx, get_user
from crossinvest.access.catalogue import BY_NAME
from crossinvest.access.throttle import Clock, fmt, parse, utc

KEY_PREFIX = "cik"
MAX_DAYS = 3660  # ten years; the default is 90
TOUCH_SECONDS = 60  # last_used_at is written at most once a minute
_ALPHABET = string.ascii_lowercase + string.digits
_KEY_RE = re.compile(r"cik_([a-z0-9]{8})_([A-Za-z0-9_-]{20,100})")


class KeyRefused(Exception):
    """An API key that does not open: ``code`` is unknown, expired, revoked or disabled."""

    def __init__(self, code: str, message: str, message_en: str):
        super().__init__(message)
        self.code = code
        self.message = message
        self.message_en = message_en


@dataclass(frozen=True)
class ApiKey:
    """What the store knows of a key (never the key itself)."""

    id: int
    user_id: int
    username: str
    name: str
    prefix: str
    datasets: tuple[str, ...]
    created_at: str
    expires_at: str
    revoked_at: str | None
    last_used_at: str | None

    def status(self, at: str | None = None) -> str:
        """``active``, ``expired`` or ``revoked`` (at ``at``, default now)."""
        if self.revoked_at:
            return "revoked"
        return "expired" if (at or fmt(utc())) >= self.expires_at else "active"

    def as_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["datasets"] = list(self.datasets)
        d["status"] = self.status()
        return d


_SELECT = (
    "SELECT k.id, k.user_id, u.username, k.name, k.prefix, k.datasets, k.created_at,"
    " k.expires_at, k.revoked_at, k.last_used_at FROM api_keys k JOIN users u ON u.id = k.user_id"
)


def _key(row: sqlite3.Row | tuple) -> ApiKey:
    r = tuple(row)
    return ApiKey(
        id=int(r[0]),
        user_id=int(r[1]),
        username=r[2],
        name=r[3],
        prefix=r[4],
        datasets=tuple(json.loads(r[5])),
        created_at=r[6],
        expires_at=r[7],
        revoked_at=r[8],
        last_used_at=r[9],
    )


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _check_datasets(datasets: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(str(d).strip() for d in datasets or () if str(d).strip()))
    if not names:
        raise AccountError(
            f"至少指定一个数据集（--dataset），可选：{'、'.join(BY_NAME)}",
            "name at least one dataset",
        )
    for name in names:
        if name not in BY_NAME:
            raise AccountError(
                f"未知数据集「{name}」：应为 {'、'.join(BY_NAME)} 之一",
                f"unknown dataset {name!r}: one of {', '.join(BY_NAME)}",
            )
    return names


def create_key(
    con: sqlite3.Connection,
    username: str,
    *,
    name: str,
    datasets: list[str],
    days: int = 90,
    clock: Clock | None = None,
) -> tuple[str, ApiKey]:
    """Issue a key to ``username``; return ``(plaintext, key)``. The plaintext is never stored."""
    label = " ".join(str(name or "").split())
    if not label or len(label) > 100:
        raise AccountError(
            "密钥需要一个名称（--name，1 至 100 个字符），说明给哪个系统使用",
            "a key needs a name of 1-100 characters",
        )
    names = _check_datasets(datasets)
    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise AccountError(
            f"有效期应为 1 至 {MAX_DAYS} 天，收到 {days}", f"days must be 1..{MAX_DAYS}, got {days}"
        )
    t = utc(clock)
    with _tx(con):
        user = _must(con, username)
        if user.disabled:
            raise AccountError(
                f"用户「{user.username}」已停用，不能签发密钥：先用 crossinvest users set --enable 启用",
                "the account is disabled",
            )
        while True:  # 36**8 prefixes: a clash is rare, but the column is UNIQUE
            prefix = "".join(secrets.choice(_ALPHABET) for _ in range(8))
            if not con.execute("SELECT 1 FROM api_keys WHERE prefix = ?", [prefix]).fetchone():
                break
        plaintext = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
        cur = con.execute(
            "INSERT INTO api_keys (user_id, name, prefix, key_hash, datasets, created_at,"
            " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                user.id,
                label,
                prefix,
                _sha256(plaintext),
                json.dumps(list(names)),
                fmt(t),
                fmt(t + dt.timedelta(days=days)),
            ],
        )
        key = _key(con.execute(_SELECT + " WHERE k.id = ?", [cur.lastrowid]).fetchone())
    return plaintext, key


def _refused(code: str, expires_at: str = "") -> KeyRefused:
    messages = {
        "unknown": (
            "API 密钥无效：请检查是否完整复制（形如 cik_xxxxxxxx_…）",
            "Unknown API key.",
        ),
        "expired": (
            f"API 密钥已于 {expires_at} 过期：请联系管理员签发新密钥",
            f"The API key expired at {expires_at}.",
        ),
        "revoked": ("API 密钥已被吊销：请联系管理员签发新密钥", "The API key has been revoked."),
        "disabled": ("API 密钥所属账户已停用：请联系管理员", "The key's account is disabled."),
    }
    return KeyRefused(code, *messages[code])


def key_user(
    con: sqlite3.Connection, plaintext: str | None, *, clock: Clock | None = None
) -> tuple[User, ApiKey]:
    """The account and key of a presented API key, or ``KeyRefused``."""
    m = _KEY_RE.fullmatch((plaintext or "").strip()) if isinstance(plaintext, str) else None
    if m is None:
        raise _refused("unknown")
    row = con.execute(
        _SELECT.replace("SELECT ", "SELECT k.key_hash, ", 1) + " WHERE k.prefix = ?", [m[1]]
    ).fetchone()
    if row is None or not hmac.compare_digest(row[0], _sha256(m[0])):
        raise _refused("unknown")
    key = _key(tuple(row)[1:])
    t = utc(clock)
    if key.revoked_at:
        raise _refused("revoked")
    if fmt(t) >= key.expires_at:
        raise _refused("expired", key.expires_at)
    user = get_user(con, key.user_id)
    if user is None or user.disabled:
        raise _refused("disabled")
    last = parse(key.last_used_at)
    if last is None or (t - last).total_seconds() >= TOUCH_SECONDS:
        with _tx(con):
            con.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", [fmt(t), key.id])
        key = replace(key, last_used_at=fmt(t))
    return user, key


def list_keys(con: sqlite3.Connection, username: str | None = None) -> list[ApiKey]:
    """Every key (of ``username`` if given), newest first."""
    if username is None:
        rows = con.execute(_SELECT + " ORDER BY k.id DESC")
    else:
        user = _must(con, username)
        rows = con.execute(_SELECT + " WHERE k.user_id = ? ORDER BY k.id DESC", [user.id])
    return [_key(r) for r in rows]


def revoke_key(
    con: sqlite3.Connection, key_id_or_prefix: int | str, *, clock: Clock | None = None
) -> ApiKey:
    """Revoke a key by id or prefix (a key already revoked keeps its first date)."""
    ref = str(key_id_or_prefix).strip()
    if ref.startswith(KEY_PREFIX + "_"):  # a whole key, or cik_<prefix>
        ref = ref.split("_")[1] if len(ref.split("_")) > 1 else ref
    with _tx(con):
        if ref.isdigit() and len(ref) < 8:
            row = con.execute(_SELECT + " WHERE k.id = ?", [int(ref)]).fetchone()
        else:
            row = con.execute(_SELECT + " WHERE k.prefix = ?", [ref.lower()]).fetchone()
        if row is None:
            raise AccountError(
                f"没有密钥「{key_id_or_prefix}」：用 crossinvest keys list 查看编号或前缀",
                f"no key {key_id_or_prefix!r}",
            )
        key = _key(row)
        if not key.revoked_at:
            con.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ?", [fmt(utc(clock)), key.id]
            )
            key = _key(con.execute(_SELECT + " WHERE k.id = ?", [key.id]).fetchone())
    return key
