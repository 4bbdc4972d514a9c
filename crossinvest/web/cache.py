"""An in-process answer cache keyed by (query, warehouse version).

The version is a seqlock kept by the writer: it is odd while a load or rollback
is running (and so may commit at any moment) and even otherwise. A request
computes under one read transaction and stores its answer only when the
version was the same even number before and after, so an answer is never
filed under a version whose data it did not see. While the version is odd the
cache is bypassed: answers are computed from the database, which keeps
showing the pre-load figures until the load commits.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any


class VersionedCache:
    """A bounded LRU of answers plus the warehouse version seqlock.

    >>> c = VersionedCache(2)
    >>> v = c.version
    >>> c.put(("a",), v, b"x"); c.get(("a",))
    b'x'
    >>> c.begin_write(); c.get(("a",)) is None
    True
    >>> c.end_write(); c.get(("a",)) is None   # a new version: old answers are gone
    True
    """

    def __init__(self, max_entries: int = 4096):
        self.max_entries = max_entries
        self._version = 0
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def version(self) -> int:
        return self._version

    def begin_write(self) -> None:
        """The writer is about to change the warehouse (it may commit any moment)."""
        with self._lock:
            if self._version % 2 == 0:
                self._version += 1

    def end_write(self) -> None:
        """The writer's change has committed or rolled back; old answers are dropped."""
        with self._lock:
            if self._version % 2 == 1:
                self._version += 1
            self._data.clear()

    def get(self, key: Hashable) -> Any | None:
        v = self._version
        if v % 2:
            return None
        with self._lock:
            item = self._data.get((v, key))
            if item is None:
                self.misses += 1
                return None
            self._data.move_to_end((v, key))
            self.hits += 1
            return item

    def put(self, key: Hashable, seen_version: int, value: Any) -> bool:
        """Store ``value`` computed at ``seen_version`` if the version has not moved since."""
        with self._lock:
            if seen_version % 2 or seen_version != self._version:
                return False
            self._data[(seen_version, key)] = value
            if len(self._data) > self.max_entries:
                self._data.popitem(last=False)
            return True

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
