"""The one place where data is read on behalf of an actor.

Views never hold a database connection. A request gets a ``Gate`` (the actor
plus a private per-request cursor); every read names a registered dataset, and
``Gate.read`` checks ``authorize(actor, dataset, action)`` before calling the
dataset's function with a ``ReadContext`` that carries the actor's enterprise
scope. Dataset functions apply the scope (``ctx.scope.sql(...)`` in SQL, or
``ctx.stats_filters(...)`` for the statistics layer), so a district scope added
later changes every page and API answer at once.

>>> @dataset("demo.answer", guard="stats")
... def _answer(ctx, x: int) -> int:
...     return x * 2
>>> from crossinvest.access.actor import LOCAL_ANALYST
>>> Gate(None, LOCAL_ANALYST).read("demo.answer", x=21)
42
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from crossinvest.access.actor import Actor, Scope


class Forbidden(PermissionError):
    """The actor may not do ``action`` on ``dataset``."""

    def __init__(self, dataset: str, action: str):
        super().__init__(f"无权{_ACTIONS_ZH.get(action, action)}数据集「{dataset}」")
        self.dataset = dataset
        self.action = action
        self.message_en = f"not allowed to {action} dataset {dataset!r}"


_ACTIONS_ZH = {"read": "查看", "export": "导出", "write": "修改"}


def authorize(actor: Actor, dataset: str, action: str = "read") -> None:
    """Raise ``Forbidden`` unless ``actor`` may do ``action`` on ``dataset``."""
    if not actor.can(dataset, action):
        raise Forbidden(dataset, action)


@dataclass(frozen=True)
class ReadContext:
    """What a dataset function gets: the cursor, the actor and its scope."""

    con: Any
    actor: Actor

    @property
    def scope(self) -> Scope:
        return self.actor.scope

    @property
    def sees_enterprise_money(self) -> bool:
        """May this actor see single enterprises' tax and revenue (no disclosure control)?"""
        return self.actor.can("enterprise_money")

    def stats_filters(self, filters: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
        return self.scope.stats_filters(filters)


@dataclass(frozen=True)
class Dataset:
    name: str
    guard: str  # the ROLES entry that governs it
    fn: Callable[..., Any]


DATASETS: dict[str, Dataset] = {}


def dataset(name: str, *, guard: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``fn(ctx, **params)`` as dataset ``name``, governed by permission ``guard``."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in DATASETS and DATASETS[name].fn is not fn:
            raise ValueError(f"dataset {name!r} registered twice")
        DATASETS[name] = Dataset(name, guard, fn)
        return fn

    return deco


def count_rows(result: Any) -> int:
    """How many rows a dataset answer delivers (for the audit log and usage figures).

    >>> count_rows({"rows": [1, 2], "total": {}}), count_rows([1, 2, 3]), count_rows({"a": 1})
    (2, 3, 1)
    """
    if isinstance(result, dict) and isinstance(result.get("rows"), list):
        return len(result["rows"])
    if isinstance(result, list):
        return len(result)
    return 0 if result is None else 1


class Gate:
    """An actor's only way to data: ``gate.read(dataset, **params)``.

    Every read is appended to ``trace`` as ``(guard, action, rows)``: the audit
    log records what each request delivered, and a cached answer carries the
    trace of the computation that made it.
    """

    __slots__ = ("_con", "_open", "actor", "trace")

    def __init__(
        self,
        con: Any,
        actor: Actor,
        *,
        opener: Callable[[], Any] | None = None,
        trace: list[tuple[str, str, int]] | None = None,
    ):
        # ``opener`` lets a request that is answered from cache never open a cursor.
        self._con = con
        self._open = opener
        self.actor = actor
        self.trace = trace if trace is not None else []

    def _cursor(self) -> Any:
        if self._con is None and self._open is not None:
            self._con = self._open()
        return self._con

    def allowed(self, dataset_name: str, action: str = "read") -> bool:
        ds = DATASETS.get(dataset_name)
        return ds is not None and self.actor.can(ds.guard, action)

    def read(self, dataset_name: str, action: str = "read", **params: Any) -> Any:
        """Authorise, then run dataset ``dataset_name`` with ``params``."""
        ds = DATASETS.get(dataset_name)
        if ds is None:
            raise KeyError(f"unknown dataset {dataset_name!r}")
        authorize(self.actor, ds.guard, action)
        result = ds.fn(ReadContext(self._cursor(), self.actor), **params)
        self.trace.append((ds.guard, action, count_rows(result)))
        return result
