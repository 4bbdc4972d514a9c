"""Who is asking: the actor of a request, its role and its enterprise scope.

A web request's actor comes from its session cookie or API key (the app's
``AccessService``, ``access/service.py``); without credentials it is
``ANONYMOUS``, who may read nothing. Outside a web request (the command line,
which runs with full rights per contract.md) it is ``LOCAL_ANALYST``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_RX = frozenset({"read", "export"})
_R = frozenset({"read"})

# Role -> permission -> actions. A permission is a catalogue dataset (see
# ``catalogue.py``) or one of the service's own: ``admin`` (users, keys,
# grants), ``audit`` and ``usage``. Beyond these, every role other than
# ``anonymous`` may read and export the catalogue's unconditional datasets, and
# anyone may read and export a dataset granted to them (``Actor.grants``).
ROLES: dict[str, dict[str, frozenset[str]]] = {
    # The system's administrator: everything, plus accounts, grants and the audit log.
    "admin": {
        "stats": _RX,
        "enterprise": _RX,
        "enterprise_money": _RX,
        "batches": frozenset({"read", "export", "write"}),
        "quarantine": _RX,
        # write: accept or reject the links in the review queue (the 数据 page, the API)
        "links": frozenset({"read", "export", "write"}),
        "admin": frozenset({"read", "write"}),
        "audit": _RX,
        "usage": _RX,
        "catalogue": _R,
    },
    # The office's analyst: every dataset, loads files; not accounts or the audit log.
    "analyst": {
        "stats": _RX,
        "enterprise": _RX,
        "enterprise_money": _RX,
        "batches": frozenset({"read", "export", "write"}),
        "quarantine": _RX,
        # write: accept or reject the links in the review queue (the 数据 page, the API)
        "links": frozenset({"read", "export", "write"}),
        "usage": _RX,
        "catalogue": _R,
    },
    # A district investment office: enterprises registered in its district(s)
    # (its scope), statistics over those alone; single firms' tax only if granted.
    "district": {"enterprise": _RX, "catalogue": _R, "requests": frozenset({"read", "write"})},
    # A commission or agency: what the catalogue offers everyone, plus its grants.
    "agency": {"catalogue": _R, "requests": frozenset({"read", "write"})},
    # A partner system calling the API with a key: its owner's rights, cut to the key's datasets.
    "api": {"catalogue": _R},
    # Kept for callers written before accounts: an agency reader without grants.
    "viewer": {"catalogue": _R},
    # No credentials: nothing (the web layer sends it to the sign-in page).
    "anonymous": {},
}

ROLE_NAMES = {
    "admin": ("管理员", "Administrator"),
    "analyst": ("本办分析员", "Office analyst"),
    "district": ("区用户", "District user"),
    "agency": ("委办局用户", "Commission or agency user"),
    "api": ("接口客户端", "API client"),
    "viewer": ("查阅者", "Viewer"),
    "anonymous": ("未登录", "Not signed in"),
}
# Roles that belong to the office itself (not partners: not counted in usage rates).
STAFF_ROLES = frozenset({"admin", "analyst"})


@dataclass(frozen=True)
class Scope:
    """Which enterprises an actor may see: ``districts=None`` means all.

    >>> Scope().sql("r.region_code")
    ('TRUE', [])
    >>> Scope(districts=frozenset({"310115"})).sql("r.region_code")
    ('r.region_code IN (?)', ['310115'])
    """

    districts: frozenset[str] | None = None

    @property
    def unrestricted(self) -> bool:
        return self.districts is None

    def sql(self, region_column: str) -> tuple[str, list[str]]:
        """A SQL predicate (and its parameters) keeping enterprises in scope."""
        if self.districts is None:
            return "TRUE", []
        if not self.districts:
            return "FALSE", []
        codes = sorted(self.districts)
        return f"{region_column} IN ({', '.join('?' for _ in codes)})", codes

    def stats_filters(self, filters: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
        """Merge the scope into statistics filters (district dimension)."""
        if self.districts is None:
            return filters
        merged = dict(filters or {})
        wanted = set(merged.get("district") or self.districts)
        merged["district"] = sorted(wanted & set(self.districts))
        return merged

    def key(self) -> str:
        """A stable text for cache keys."""
        return "*" if self.districts is None else ",".join(sorted(self.districts))


@dataclass(frozen=True)
class Actor:
    """The requester. ``role`` names an entry of ``ROLES``.

    ``grants`` are the datasets granted to this account (unexpired);
    ``key_datasets``, when the request came with an API key, cuts the account's
    rights to the datasets the key was issued for.

    >>> a = Actor(id="u7", name="发改委", role="agency", grants=frozenset({"enterprise"}))
    >>> a.can("stats"), a.can("enterprise", "export"), a.can("enterprise_money")
    (True, True, False)
    >>> Actor(id="k", name="k", role="agency", key_datasets=frozenset({"enterprise"})).can("stats")
    False
    """

    id: str
    name: str
    role: str
    scope: Scope = field(default_factory=Scope)
    grants: frozenset[str] = frozenset()
    key_datasets: frozenset[str] | None = None
    org: str | None = None
    user_id: int | None = None
    via: str = "local"  # session | key | local | cli | anonymous

    def can(self, dataset: str, action: str = "read") -> bool:
        if self.key_datasets is not None and dataset not in self.key_datasets:
            return False
        if action in ROLES.get(self.role, {}).get(dataset, frozenset()):
            return True
        if action not in ("read", "export") or self.role == "anonymous":
            return False
        from crossinvest.access.catalogue import UNCONDITIONAL, sharing_of

        return sharing_of(dataset) == UNCONDITIONAL or dataset in self.grants

    @property
    def signed_in(self) -> bool:
        return self.role != "anonymous"

    def cache_key(self) -> str:
        keys = "*" if self.key_datasets is None else ",".join(sorted(self.key_datasets))
        return f"{self.role}|{self.scope.key()}|{','.join(sorted(self.grants))}|{keys}"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "role_name": ROLE_NAMES.get(self.role, (self.role, self.role))[0],
            "org": self.org,
            "districts": None if self.scope.districts is None else sorted(self.scope.districts),
            "grants": sorted(self.grants),
            "via": self.via,
        }


LOCAL_ANALYST = Actor(id="local", name="本机分析员", role="analyst")
ANONYMOUS = Actor(id="anonymous", name="未登录", role="anonymous", via="anonymous")

# Resolvers are tried in order before the app's access service; the first that
# returns an Actor wins (an extension point, and how tests impersonate).
Resolver = Callable[[Any], "Actor | None"]
RESOLVERS: list[Resolver] = []


def resolve_actor(request: Any) -> Actor:
    """The actor of ``request`` (a Starlette request, or anything a resolver accepts)."""
    for resolver in RESOLVERS:
        actor = resolver(request)
        if actor is not None:
            return actor
    app = getattr(request, "scope", {}).get("app") if hasattr(request, "scope") else None
    service = getattr(getattr(app, "state", None), "access", None)
    if service is not None:
        return service.resolve(request)
    return LOCAL_ANALYST
