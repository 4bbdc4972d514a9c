"""Statistics (issue 3): origins, inbound/outbound figures, penetration, materialised summaries.

Public API (imported lazily, so that loading the plugin costs nothing):

- ``stats(con, kind, period, by, penetrate=False, include_persons=False, filters=None) -> StatsResult``
- ``enterprise_profile(con, uscc) -> dict``
- ``scoped_filters(filters, districts=...)`` — a caller's scope as filters
- ``refresh_for_enterprises(con, keys, measures_only=...)`` — refresh outside a load

See docs/definitions-impl.md.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "stats": "crossinvest.analytics.query",
    "StatsResult": "crossinvest.analytics.query",
    "scoped_filters": "crossinvest.analytics.query",
    "enterprise_profile": "crossinvest.analytics.profile",
    "EnterpriseNotFound": "crossinvest.analytics.profile",
    "refresh_for_enterprises": "crossinvest.analytics.refresh",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(name)
