"""What the sharing service's pages and API do, each step authorised and audited.

Views call these functions with the request's ``AccessService`` and ``Actor``;
the functions check the actor's rights first (``authorize``), then read or
change the access store, and record every change (sign-in, requests,
decisions, grants, account and key edits) in the audit log. Views never touch
the store themselves.
"""

from __future__ import annotations

import time
from typing import Any

from crossinvest.access.actor import ROLE_NAMES, STAFF_ROLES, Actor
from crossinvest.access.catalogue import CATALOGUE, CLASS_NAMES, CONDITIONAL
from crossinvest.access.gate import Forbidden, authorize


class SharingError(ValueError):
    """A refused step with a message for the user (Chinese) and for developers."""

    def __init__(self, message: str, message_en: str, status: int = 400, code: str = "bad_request"):
        super().__init__(message)
        self.message = message
        self.message_en = message_en
        self.status = status
        self.code = code


_CODES = {400: "bad_request", 403: "forbidden", 404: "not_found", 409: "conflict"}


def _wrap(e: Exception) -> SharingError:
    status = getattr(e, "status", 400)
    return SharingError(
        getattr(e, "message", str(e)),
        getattr(e, "message_en", str(e)),
        status,
        _CODES.get(status, "bad_request"),
    )


# --- sign-in ----------------------------------------------------------------------


def sign_in(
    service: Any, username: str, password: str, *, ip: str | None, user_agent: str | None
) -> tuple[str, str, Any]:
    """Check the password (with throttling); return (session token, csrf token, user).

    Raises ``accounts.SignInRefused``; both outcomes are audited.
    """
    from crossinvest.access.accounts import SignInRefused, authenticate, create_session

    try:
        with service.lock:
            user = authenticate(service.con, username, password, ip=ip, settings=service.settings)
            token, csrf = create_session(
                service.con,
                user,
                ip=ip,
                user_agent=user_agent,
                hours=int(service.settings.get("session_hours", 8)),
            )
    except SignInRefused as e:
        service.audit(
            "sign_in_failed",
            username=username[:64],
            ip=ip,
            path="/login",
            status=401,
            detail={"code": e.code},
        )
        raise
    actor = service.actor_for(user).actor
    service.audit("sign_in", actor=actor, ip=ip, path="/login", status=200)
    return token, csrf, user


def sign_out(service: Any, actor: Actor, token: str | None, *, ip: str | None) -> None:
    from crossinvest.access.accounts import end_session

    if token:
        with service.lock:
            end_session(service.con, token)
    service.invalidate()
    service.audit("sign_out", actor=actor, ip=ip, path="/logout", status=200)


# --- the catalogue and requests -------------------------------------------------------


def catalogue(service: Any, actor: Actor, freshness: dict[str, Any] | None) -> dict[str, Any]:
    """Every catalogue entry with its last update and this actor's access to it."""
    from crossinvest.access.grants import list_grants, list_requests

    authorize(actor, "catalogue")
    last: dict[str, str] = {}
    for row in (freshness or {}).get("rows", []):
        when = row.get("last_loaded_at")
        if when:
            last[row["source"]] = str(when)
    mine_grants: dict[str, dict[str, Any]] = {}
    mine_pending: dict[str, dict[str, Any]] = {}
    if actor.user_id is not None:
        with service.lock:
            for g in list_grants(service.con, user_id=actor.user_id, active_only=True):
                mine_grants.setdefault(g["dataset"], g)
            for r in list_requests(service.con, user_id=actor.user_id, status="pending"):
                mine_pending.setdefault(r["dataset"], r)
    entries = []
    for e in CATALOGUE:
        item = e.as_json()
        dates = [last[s] for s in e.sources if s in last]
        item["last_update"] = max(dates) if dates else None
        item["access"] = (
            "granted"
            if e.name in mine_grants
            else "yes"
            if actor.can(e.name)
            else "pending"
            if e.name in mine_pending
            else "requestable"
            if e.sharing == CONDITIONAL and actor.can("requests", "write")
            else "no"
        )
        if e.name in mine_grants:
            item["grant_expires_at"] = mine_grants[e.name]["expires_at"]
        entries.append(item)
    return {"datasets": entries, "classes": {k: v[0] for k, v in CLASS_NAMES.items()}}


def file_request(
    service: Any, actor: Actor, dataset: str, purpose: str, days: int, *, ip: str | None = None
) -> dict[str, Any]:
    from crossinvest.access.grants import GrantError, request_access

    authorize(actor, "requests", "write")
    if actor.user_id is None:
        raise SharingError("只有登录的账户可以申请", "only signed-in accounts may request")
    try:
        with service.lock:
            req = request_access(service.con, actor.user_id, dataset, purpose=purpose, days=days)
    except GrantError as e:
        raise _wrap(e) from e
    service.audit(
        "request", actor=actor, ip=ip, dataset=dataset, purpose=purpose, detail={"id": req["id"]}
    )
    return req


def requests(service: Any, actor: Actor, *, status: str | None = None) -> list[dict[str, Any]]:
    """All requests for an administrator; one's own for anyone else."""
    from crossinvest.access.grants import list_requests

    with service.lock:
        if actor.can("admin"):
            return list_requests(service.con, status=status)
        authorize(actor, "requests")
        return list_requests(service.con, status=status, user_id=actor.user_id)


def decide(
    service: Any,
    actor: Actor,
    request_id: int,
    *,
    approve: bool,
    reason: str,
    days: int | None = None,
    ip: str | None = None,
) -> dict[str, Any]:
    from crossinvest.access.grants import GrantError
    from crossinvest.access.grants import decide as decide_

    authorize(actor, "admin", "write")
    try:
        with service.lock:
            req = decide_(
                service.con,
                request_id,
                approver_id=actor.user_id,
                approve=approve,
                reason=reason,
                days=days,
            )
    except GrantError as e:
        raise _wrap(e) from e
    service.invalidate()
    service.audit(
        "grant" if approve else "decide",
        actor=actor,
        ip=ip,
        dataset=req["dataset"],
        purpose=req["purpose"],
        detail={
            "request": request_id,
            "approved": approve,
            "reason": reason,
            "for": req["username"],
        },
    )
    return req


def grants(service: Any, actor: Actor) -> list[dict[str, Any]]:
    from crossinvest.access.grants import list_grants

    with service.lock:
        if actor.can("admin"):
            return list_grants(service.con)
        authorize(actor, "catalogue")
        return list_grants(service.con, user_id=actor.user_id)


def revoke_grant(service: Any, actor: Actor, grant_id: int, *, ip: str | None = None) -> None:
    from crossinvest.access.grants import GrantError, revoke

    authorize(actor, "admin", "write")
    try:
        with service.lock:
            revoke(service.con, grant_id)
    except GrantError as e:
        raise _wrap(e) from e
    service.invalidate()
    service.audit("revoke", actor=actor, ip=ip, detail={"grant": grant_id})


# --- accounts and keys (administrator) --------------------------------------------------


def users(service: Any, actor: Actor) -> list[dict[str, Any]]:
    from crossinvest.access.accounts import list_users

    authorize(actor, "admin")
    with service.lock:
        out = [u.as_json() for u in list_users(service.con)]
    for u in out:
        u["role_name"] = ROLE_NAMES.get(u["role"], (u["role"],))[0]
    return out


def _admin_step(
    service: Any, actor: Actor, what: str, fn: Any, *args: Any, ip: str | None, **kwargs: Any
) -> Any:
    """Run one administrator's change ``fn(con, *args, **kwargs)``: authorised, refused
    with the user's message, then audited and every memoised actor forgotten."""
    from crossinvest.access.accounts import AccountError

    authorize(actor, "admin", "write")
    try:
        with service.lock:
            result = fn(service.con, *args, **kwargs)
    except AccountError as e:
        raise _wrap(e) from e
    service.invalidate()
    target = {"target": args[0]} if args else {}
    service.audit("admin", actor=actor, ip=ip, detail={"action": what, **target})
    return result


def create_user(service: Any, actor: Actor, *, ip: str | None = None, **fields: Any) -> dict:
    from crossinvest.access.accounts import create_user as create

    username = fields.pop("username")
    return _admin_step(service, actor, "create_user", create, username, ip=ip, **fields).as_json()


def update_user(
    service: Any, actor: Actor, username: str, *, ip: str | None = None, **fields: Any
) -> dict:
    from crossinvest.access.accounts import update_user as update

    return _admin_step(service, actor, "update_user", update, username, ip=ip, **fields).as_json()


def unlock_user(service: Any, actor: Actor, username: str, *, ip: str | None = None) -> None:
    from crossinvest.access.accounts import unlock_user as unlock

    _admin_step(service, actor, "unlock_user", unlock, username, ip=ip)


def keys(service: Any, actor: Actor) -> list[dict[str, Any]]:
    from crossinvest.access.accounts import list_keys

    authorize(actor, "admin")
    with service.lock:
        return [k.as_json() for k in list_keys(service.con)]


def create_key(
    service: Any,
    actor: Actor,
    username: str,
    *,
    name: str,
    datasets: list[str],
    days: int,
    ip: str | None = None,
) -> tuple[str, dict[str, Any]]:
    from crossinvest.access.accounts import create_key as create

    plain, key = _admin_step(
        service, actor, "create_key", create, username, ip=ip, name=name, datasets=datasets,
        days=days,
    )  # fmt: skip
    return plain, key.as_json()


def revoke_key(service: Any, actor: Actor, key: str, *, ip: str | None = None) -> None:
    from crossinvest.access.accounts import revoke_key as revoke

    _admin_step(service, actor, "revoke_key", revoke, key, ip=ip)


# --- audit and usage ------------------------------------------------------------------


def audit_log(service: Any, actor: Actor, **filters: Any) -> list[dict[str, Any]]:
    from crossinvest.access.audit import search

    authorize(actor, "audit")
    try:
        with service.lock:
            return search(service.con, **filters)
    except ValueError as e:
        raise SharingError(f"查询条件有误：{e}", f"bad audit filter: {e}") from e


def usage(service: Any, actor: Actor, *, month: str | None = None) -> dict[str, Any]:
    from crossinvest.access.usage import usage as usage_

    authorize(actor, "usage")
    # A 12-month trend over a large log takes seconds; the figures are monthly,
    # so a minute-old answer is as good as a fresh one.
    key = month or ""
    hit = _USAGE_MEMO.get((id(service), key))
    if hit is not None and time.monotonic() - hit[0] < USAGE_MEMO_SECONDS:
        return hit[1]
    with service.lock:
        data = usage_(service.con, month=month)
    _USAGE_MEMO[(id(service), key)] = (time.monotonic(), data)
    return data


USAGE_MEMO_SECONDS = 60.0
_USAGE_MEMO: dict[tuple[int, str], tuple[float, dict[str, Any]]] = {}


def is_partner(actor: Actor) -> bool:
    return actor.role not in STAFF_ROLES


__all__ = ["Forbidden", "SharingError"]
