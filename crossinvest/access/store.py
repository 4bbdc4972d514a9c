"""The access store: accounts, sessions, API keys, grants, requests and the audit log.

Why SQLite and not the DuckDB warehouse: this is row-at-a-time OLTP written on
every request (an audit row per read), and it must be writable by the command
line (``crossinvest users …``) while the server holds the warehouse, whose file
DuckDB locks to one process. Measured with ``python benchmarks/bench_access_store.py``:
one audit row committed takes ~2.2 ms in DuckDB and ~43 µs in SQLite (WAL), ~50×,
and a second process cannot open the DuckDB file at all. The file lives beside
the warehouse under ``CROSSINVEST_HOME`` (``access.sqlite3``, mode 0600) and is
backed up with it.

Migrations are named functions recorded in ``_migrations``, as in the warehouse.

>>> import tempfile; from pathlib import Path
>>> from crossinvest.config import Home
>>> con = open_store(Home(Path(tempfile.mkdtemp())))
>>> con.execute("SELECT count(*) FROM users").fetchone()[0]
0
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

from crossinvest.config import Home

STORE_NAME = "access.sqlite3"


def store_path(home: Home) -> Path:
    return home.root / STORE_NAME


def now() -> str:
    """The current UTC time as the store writes it (ISO 8601, seconds, ``Z``)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def open_store(home: Home) -> sqlite3.Connection:
    """Open (creating and migrating if needed) the access store of ``home``.

    The connection is in autocommit mode; group writes with ``transaction``.
    ``check_same_thread=False`` because the server shares one connection per
    thread pool worker under its own lock (see ``access.service``).
    """
    home.ensure()
    path = store_path(home)
    fresh = not path.exists()
    con = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    if fresh:
        os.chmod(path, 0o600)
    con.row_factory = sqlite3.Row
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("PRAGMA foreign_keys=ON")
    con.execute("PRAGMA busy_timeout=30000")
    migrate(con)
    return con


@contextlib.contextmanager
def transaction(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (rollback on error): one writer at a time."""
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


# --- migrations -----------------------------------------------------------------


def _script(con: sqlite3.Connection, sql: str) -> None:
    """Run several statements inside the caller's transaction.

    ``executescript`` would commit first, outside the migration's transaction.
    """
    buf = ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            con.execute(buf)
            buf = ""
    if buf.strip():
        con.execute(buf)


def m0001_accounts(con: sqlite3.Connection) -> None:
    _script(
        con,
        """
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL UNIQUE COLLATE NOCASE,
            display_name TEXT NOT NULL,
            role TEXT NOT NULL,             -- admin | analyst | district | agency | api
            org TEXT,                       -- the agency or district office it belongs to
            districts TEXT,                 -- comma-separated 6-digit codes (district role)
            password_hash TEXT,             -- argon2id; NULL: may not sign in (API-only)
            disabled INTEGER NOT NULL DEFAULT 0,
            failed_logins INTEGER NOT NULL DEFAULT 0,
            last_failed_at TEXT,
            locked_until TEXT,
            last_login_at TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY,    -- sha256 of the cookie value
            user_id INTEGER NOT NULL REFERENCES users(id),
            csrf TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            ip TEXT,
            user_agent TEXT
        );
        CREATE INDEX sessions_user ON sessions(user_id);
        CREATE TABLE api_keys (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            name TEXT NOT NULL,
            prefix TEXT NOT NULL UNIQUE,    -- shown in lists; the rest is never stored
            key_hash TEXT NOT NULL,         -- sha256 of the whole key
            datasets TEXT NOT NULL,         -- JSON list of dataset guards it may use
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            revoked_at TEXT,
            last_used_at TEXT
        );
        CREATE TABLE login_attempts (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL,
            ip TEXT,
            at TEXT NOT NULL,
            ok INTEGER NOT NULL
        );
        CREATE INDEX login_attempts_ip ON login_attempts(ip, at);
        CREATE INDEX login_attempts_user ON login_attempts(username, at);
        """,
    )


def m0002_sharing(con: sqlite3.Connection) -> None:
    _script(
        con,
        """
        CREATE TABLE access_requests (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            dataset TEXT NOT NULL,
            purpose TEXT NOT NULL,
            days INTEGER NOT NULL,          -- how long the requester asks for
            status TEXT NOT NULL DEFAULT 'pending',  -- pending | approved | rejected
            requested_at TEXT NOT NULL,
            decided_by INTEGER REFERENCES users(id),
            decided_at TEXT,
            reason TEXT
        );
        CREATE TABLE grants (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            dataset TEXT NOT NULL,
            request_id INTEGER REFERENCES access_requests(id),
            purpose TEXT,
            granted_by INTEGER REFERENCES users(id),
            granted_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            revoked_at TEXT
        );
        CREATE INDEX grants_user ON grants(user_id);
        """,
    )


def m0003_audit(con: sqlite3.Connection) -> None:
    # Append-only: the triggers refuse any change or deletion, whoever asks;
    # each row carries the hash of the one before it, so a change made to the
    # file behind the application's back breaks the chain (``audit_verify.verify``).
    _script(
        con,
        """
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            event TEXT NOT NULL,            -- sign_in, sign_in_failed, sign_out, read,
                                            -- export, query, grant, request, decide, admin
            user_id INTEGER,
            username TEXT,
            role TEXT,
            org TEXT,
            districts TEXT,
            via TEXT,                       -- session | key | local | cli
            ip TEXT,
            method TEXT,
            path TEXT,
            query TEXT,
            dataset TEXT,
            rows INTEGER,
            status INTEGER,
            purpose TEXT,
            detail TEXT,                    -- JSON
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        );
        CREATE INDEX audit_at ON audit(at);
        CREATE INDEX audit_user ON audit(user_id, at);
        CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, '审计日志只能追加，不能修改 (audit log is append-only)'); END;
        CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, '审计日志只能追加，不能删除 (audit log is append-only)'); END;
        """,
    )


def m0004_login_outcome(con: sqlite3.Connection) -> None:
    # What became of each sign-in attempt (ok, bad_credentials, slowed, locked,
    # disabled): throttling replays an unknown username's failures from it, so
    # that a name that does not exist is slowed and locked exactly like one that
    # does (accounts.authenticate), and refusals are not counted as failures.
    con.execute("ALTER TABLE login_attempts ADD COLUMN outcome TEXT")


MIGRATIONS: list[tuple[str, Callable[[sqlite3.Connection], None]]] = [
    ("0001_accounts", m0001_accounts),
    ("0002_sharing", m0002_sharing),
    ("0003_audit", m0003_audit),
    ("0004_login_outcome", m0004_login_outcome),
]


def migrate(con: sqlite3.Connection) -> list[str]:
    """Apply the migrations this store has not seen; return their names."""
    con.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    done = {r[0] for r in con.execute("SELECT name FROM _migrations")}
    applied: list[str] = []
    for name, fn in MIGRATIONS:
        if name in done:
            continue
        with transaction(con):
            # another process may have applied it while we waited for the lock
            if con.execute("SELECT 1 FROM _migrations WHERE name = ?", [name]).fetchone():
                continue
            fn(con)
            con.execute("INSERT INTO _migrations VALUES (?, ?)", [name, now()])
        applied.append(name)
    return applied
