"""Access control: who asks (``Actor``), what they may read (``authorize``), and the
``Gate`` through which every dataset read passes."""

from crossinvest.access.actor import LOCAL_ANALYST, Actor, Scope, resolve_actor
from crossinvest.access.gate import DATASETS, Forbidden, Gate, ReadContext, authorize, dataset

__all__ = [
    "DATASETS",
    "LOCAL_ANALYST",
    "Actor",
    "Forbidden",
    "Gate",
    "ReadContext",
    "Scope",
    "authorize",
    "dataset",
    "resolve_actor",
]
