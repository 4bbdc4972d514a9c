"""Who is asking: the actor of a request, its role and its enterprise scope.

Until sign-in arrives (the data-sharing issue) every request is the local
analyst, who has full rights. Roles and scopes exist already so that a district
user can be added by writing a resolver, without touching any view.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Role -> dataset -> actions. A dataset not listed is denied.
ROLES: dict[str, dict[str, frozenset[str]]] = {
    # The office's own analyst, signed in on the server itself (also the admin
    # until accounts exist): sees everything, loads files, reviews links.
    "analyst": {
        "stats": frozenset({"read", "export"}),
        "enterprise": frozenset({"read", "export"}),
        "enterprise_money": frozenset({"read"}),
        "batches": frozenset({"read", "export", "write"}),
        "quarantine": frozenset({"read", "export"}),
        "links": frozenset({"read", "export"}),
        "freshness": frozenset({"read"}),
        "definitions": frozenset({"read"}),
    },
    # Another agency's reader: aggregates only, under disclosure control.
    "viewer": {
        "stats": frozenset({"read", "export"}),
        "freshness": frozenset({"read"}),
        "definitions": frozenset({"read"}),
    },
}

ROLE_NAMES = {"analyst": ("分析员", "Analyst"), "viewer": ("查阅者", "Viewer")}


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
    """The requester. ``role`` names an entry of ``ROLES``."""

    id: str
    name: str
    role: str
    scope: Scope = field(default_factory=Scope)

    def can(self, dataset: str, action: str = "read") -> bool:
        return action in ROLES.get(self.role, {}).get(dataset, frozenset())

    def cache_key(self) -> str:
        return f"{self.role}|{self.scope.key()}"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "role_name": ROLE_NAMES.get(self.role, (self.role, self.role))[0],
            "districts": None if self.scope.districts is None else sorted(self.scope.districts),
        }


LOCAL_ANALYST = Actor(id="local", name="本机分析员", role="analyst")

# Resolvers are tried in order; the first that returns an Actor wins. Sign-in
# will insert its resolver in front; the fallback is the local analyst.
Resolver = Callable[[Any], "Actor | None"]
RESOLVERS: list[Resolver] = []


def resolve_actor(request: Any) -> Actor:
    """The actor of ``request`` (a Starlette request, or anything a resolver accepts)."""
    for resolver in RESOLVERS:
        actor = resolver(request)
        if actor is not None:
            return actor
    return LOCAL_ANALYST
