"""The running server's access service: who a request is, and what it leaves in the audit log.

One per web application (``app.state.access``). ``resolve`` turns a request's
credentials into an ``Actor``: an API key (``Authorization: Bearer cik_…`` or
``X-API-Key``), else the session cookie, else the command line's server token
(``X-Crossinvest-Token``, for loads handed over by ``crossinvest ingest``),
else ``ANONYMOUS`` — or, when the operator set ``anonymous_role`` for a
single-user workstation, that role. Resolutions are memoised for a few seconds
so that a cached answer costs no store lookup; every change made through the
service (sign-out, grants, user edits) clears the memo at once, and so does a
change another process commits to the store (the command line's revocations),
seen through SQLite's ``data_version`` on the next request.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import threading
import time
from dataclasses import dataclass
from typing import Any

from crossinvest.access.actor import ANONYMOUS, Actor, Scope
from crossinvest.access.store import open_store
from crossinvest.config import Home

SESSION_COOKIE = "ci_session"
CSRF_COOKIE = "ci_csrf"  # double-submit token of the sign-in form (no session yet)
MEMO_SECONDS = 5.0


@dataclass(frozen=True)
class Resolution:
    actor: Actor
    csrf: str | None = None  # the session's CSRF token (session actors only)
    refusal: tuple[str, str, str] | None = None  # (code, message, message_en) of a bad key
    purposes: tuple[tuple[str, str], ...] = ()  # dataset -> purpose of the actor's grants


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class AccessService:
    """Accounts, grants and the audit log of one home, for one server process."""

    def __init__(self, home: Home, *, server_token: str | None = None):
        self.home = home
        self.settings = home.settings()
        self.con = open_store(home)
        self.lock = threading.RLock()
        self.server_token = server_token
        self._memo: dict[str, tuple[float, Resolution]] = {}
        self._version = self._data_version()

    def close(self) -> None:
        with self.lock:
            self.con.close()

    # --- who is asking --------------------------------------------------------------

    def invalidate(self) -> None:
        """Forget memoised resolutions (after any change to users, sessions, keys, grants)."""
        self._memo.clear()

    def _data_version(self) -> int:
        # SQLite bumps it when another connection commits: the command line's
        # ``grants revoke``, ``keys revoke`` or ``users set --disable``. Reading it
        # costs microseconds and no disk read; this process's own writes (the audit
        # rows of every request) leave it alone.
        with self.lock:
            return int(self.con.execute("PRAGMA data_version").fetchone()[0])

    def _forget_if_changed_elsewhere(self) -> None:
        version = self._data_version()
        if version != self._version:
            self._version = version
            self._memo.clear()

    def resolution(self, request: Any) -> Resolution:
        """The request's actor with its session CSRF token or key refusal (memoised)."""
        cached = getattr(getattr(request, "state", None), "ci_resolution", None)
        if cached is not None:
            return cached
        headers = request.headers
        auth = headers.get("authorization", "")
        key = auth[7:].strip() if auth[:7].lower() == "bearer " else headers.get("x-api-key")
        cookie = request.cookies.get(SESSION_COOKIE)
        token = headers.get("x-crossinvest-token")
        if auth and not key:
            # credentials that are not ours are refused, never ignored in favour of a cookie
            return Resolution(
                ANONYMOUS,
                refusal=(
                    "invalid",
                    "Authorization 头无效：应为「Bearer 接口密钥」",
                    "invalid Authorization header: expected 'Bearer <API key>'",
                ),
            )
        if key:
            memo_key = "k:" + token_hash(key)
        elif cookie:
            memo_key = "s:" + token_hash(cookie)
        elif token and self.server_token and hmac.compare_digest(token, self.server_token):
            return Resolution(Actor(id="cli", name="本机命令行", role="admin", via="cli"))
        else:
            return self._anonymous()
        self._forget_if_changed_elsewhere()
        hit = self._memo.get(memo_key)
        t = time.monotonic()
        if hit is not None and hit[0] > t:
            res = hit[1]
        else:
            res = self._resolve_key(key) if key else self._resolve_session(cookie or "")
            if len(self._memo) > 10_000:
                self._memo.clear()
            self._memo[memo_key] = (t + MEMO_SECONDS, res)
        with contextlib.suppress(AttributeError):
            request.state.ci_resolution = res
        return res

    def resolve(self, request: Any) -> Actor:
        return self.resolution(request).actor

    def resolve_anonymous(self) -> Actor:
        """The actor of a request without credentials (``ANONYMOUS`` unless a workstation)."""
        return self._anonymous().actor

    def _anonymous(self) -> Resolution:
        role = self.settings.get("anonymous_role")
        if role:
            return Resolution(Actor(id="local", name="本机用户", role=role, via="local"))
        return Resolution(ANONYMOUS)

    def actor_for(self, user: Any, *, key: Any = None) -> Resolution:
        """The actor of an account (with its grants in force), optionally through a key."""
        from crossinvest.access.grants import active_grants

        with self.lock:
            purposes = active_grants(self.con, user.id)
        scope = Scope(frozenset(user.districts)) if user.role == "district" else Scope()
        actor = Actor(
            id=user.username,
            name=user.display_name,
            role=user.role,
            scope=scope,
            grants=frozenset(purposes),
            key_datasets=None if key is None else frozenset(key.datasets),
            org=user.org,
            user_id=user.id,
            via="session" if key is None else "key",
        )
        return Resolution(actor, purposes=tuple(purposes.items()))

    def _resolve_session(self, cookie: str) -> Resolution:
        from crossinvest.access.accounts import session_user

        with self.lock:
            found = session_user(self.con, cookie)
        if found is None:
            return Resolution(ANONYMOUS)
        user, csrf = found
        res = self.actor_for(user)
        return Resolution(res.actor, csrf=csrf, purposes=res.purposes)

    def _resolve_key(self, key: str) -> Resolution:
        from crossinvest.access.accounts import KeyRefused, key_user

        try:
            with self.lock:
                user, api_key = key_user(self.con, key)
        except KeyRefused as e:
            return Resolution(ANONYMOUS, refusal=(e.code, e.message, e.message_en))
        return self.actor_for(user, key=api_key)

    # --- the audit log -----------------------------------------------------------------

    def audit(self, event: str, **fields: Any) -> None:
        """Append one audit row (see ``access.audit.record``)."""
        from crossinvest.access.audit import record

        with self.lock:
            record(self.con, event, **fields)
