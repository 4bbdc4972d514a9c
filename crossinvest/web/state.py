"""What a running server holds: the warehouse, the writer, the cache, the token.

The server owns the one read-write DuckDB connection. The writer thread uses it
directly; every request reads through its own cursor (``con.cursor()``, a new
connection to the same database) inside one read transaction, so a page sees
one consistent snapshot and keeps seeing the pre-load figures until a load
commits (DuckDB's MVCC).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb

from crossinvest.config import Home
from crossinvest.warehouse.connection import Warehouse, connect
from crossinvest.web.cache import VersionedCache
from crossinvest.web.inbox import InboxWatcher
from crossinvest.web.writer import Writer


@dataclass
class ServerState:
    home: Home
    wh: Warehouse
    token: str
    cache: VersionedCache
    writer: Writer
    inbox: InboxWatcher | None = None
    started_at: float = field(default_factory=time.time)
    warming: bool = False
    # Called (in the writer thread) after every write job, committed or not.
    after_write: list[Callable[[], None]] = field(default_factory=list)
    _source: duckdb.DuckDBPyConnection | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(
        cls,
        home: Home,
        *,
        token: str | None = None,
        inbox_interval: float | None = 5.0,
    ) -> ServerState:
        """Open the warehouse read-write and start the writer (and inbox, unless ``None``)."""
        wh = connect(home)
        cache = VersionedCache()
        hooks: list[Callable[[], None]] = []

        def committed() -> None:
            cache.end_write()
            for hook in hooks:
                hook()
            # After the hooks: a warm-up they start reads while the index catches up.
            writer.submit_name_index()

        writer = Writer(wh, on_begin=cache.begin_write, on_end=committed)
        state = cls(home, wh, token or secrets.token_urlsafe(24), cache, writer)
        state.after_write = hooks
        # Cursors are made from an idle connection, never from the one the writer
        # is busy on, so making one never waits behind a load.
        state._source = wh.con.cursor()
        writer.start()
        writer.submit_name_index()  # rows loaded while no server ran (the command line)
        if inbox_interval is not None:
            state.inbox = InboxWatcher(home.root / "inbox", writer, interval=inbox_interval)
            state.inbox.start()
        return state

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A fresh cursor for one request (close it when done)."""
        with self._lock:
            assert self._source is not None
            return self._source.cursor()

    def snapshot(self) -> tuple[Callable[[], Any], Callable[[], None]]:
        """(open, close) for one request's read transaction; ``open`` is called lazily."""
        holder: list[duckdb.DuckDBPyConnection] = []

        def open_() -> duckdb.DuckDBPyConnection:
            cur = self.cursor()
            cur.execute("BEGIN TRANSACTION")
            holder.append(cur)
            return cur

        def close() -> None:
            for cur in holder:
                try:
                    cur.execute("ROLLBACK")
                finally:
                    cur.close()

        return open_, close

    def close(self) -> None:
        if self.inbox is not None:
            self.inbox.stop()
        self.writer.stop()
        if self._source is not None:
            self._source.close()
        self.wh.close()
