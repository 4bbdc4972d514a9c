"""The server's single writer: one background thread owns every write.

DuckDB allows one read-write process, and in it one writer at a time is the
simplest correct design. Loads from the API, the data page's upload, the inbox
folder and the CLI's hand-over all become ``Job``s on one queue; the thread
runs them in order on the server's read-write connection. Around each job it
moves the cache's version seqlock (odd while running, even after), so cached
answers never outlive the data they came from.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crossinvest.warehouse.connection import Warehouse

log = logging.getLogger("crossinvest.web")

KEEP_JOBS = 500


@dataclass
class Job:
    """One unit of write work and what became of it."""

    id: int
    kind: str  # 'load', 'rollback', 'link', or an extension's name
    params: dict[str, Any]
    origin: str  # 'api', 'upload', 'inbox', 'cli', 'page'
    fn: Callable[[Warehouse], dict[str, Any]] = field(repr=False)
    # False for upkeep that no answer depends on (the name index): it neither moves
    # the cache's version nor counts as a write (no after-write hooks, no warm-up).
    changes_data: bool = True
    status: str = "queued"  # queued, running, done, refused, failed
    result: dict[str, Any] | None = None
    error: dict[str, str] | None = None
    submitted_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    done: threading.Event = field(default_factory=threading.Event, repr=False)
    on_done: list[Callable[[Job], None]] = field(default_factory=list, repr=False)

    @property
    def finished(self) -> bool:
        return self.status in ("done", "refused", "failed")

    def as_json(self) -> dict[str, Any]:
        def iso(t: float | None) -> str | None:
            return None if t is None else time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(t))

        return {
            "job": self.id,
            "kind": self.kind,
            "origin": self.origin,
            "params": self.params,
            "status": self.status,
            "result": self.result,
            "error": self.error,
            "submitted_at": iso(self.submitted_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
        }


def _noop() -> None:
    pass


class Refused(Exception):
    """A job's work was refused as a whole (bad file, unknown batch): nothing changed."""


class Writer:
    """The write queue and its thread.

    ``on_begin``/``on_end`` are called around every job (the cache's seqlock).
    """

    def __init__(
        self,
        wh: Warehouse,
        *,
        on_begin: Callable[[], None] = lambda: None,
        on_end: Callable[[], None] = lambda: None,
    ):
        self.wh = wh
        self._on_begin = on_begin
        self._on_end = on_end
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._jobs: OrderedDict[int, Job] = OrderedDict()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="crossinvest-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the running job, drop the queued ones, and end the thread."""
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                self._finish(
                    job, "failed", error={"code": "shutdown", "message": "服务关闭，任务未执行"}
                )
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)

    # -- submitting ------------------------------------------------------------

    def submit(
        self,
        kind: str,
        fn: Callable[[Warehouse], dict[str, Any]],
        *,
        params: dict[str, Any],
        origin: str,
        on_done: Callable[[Job], None] | None = None,
        changes_data: bool = True,
    ) -> Job:
        with self._lock:
            job = Job(next(self._ids), kind, params, origin, fn, changes_data=changes_data)
            if on_done is not None:
                job.on_done.append(on_done)
            self._jobs[job.id] = job
            while len(self._jobs) > KEEP_JOBS:
                old_id, old = next(iter(self._jobs.items()))
                if not old.finished:
                    break
                del self._jobs[old_id]
        self._queue.put(job)
        return job

    def submit_load(
        self,
        source: str,
        path: Path,
        *,
        strict: bool = False,
        origin: str = "api",
        on_done: Callable[[Job], None] | None = None,
    ) -> Job:
        """Queue loading ``path`` as a ``source`` delivery."""

        def work(wh: Warehouse) -> dict[str, Any]:
            from crossinvest.readers import FileRefused
            from crossinvest.warehouse.load import load_file

            try:
                return load_file(wh, source, Path(path), strict=strict).as_json()
            except FileRefused as e:
                raise Refused(str(e)) from e

        params = {"source": source, "file": Path(path).name, "strict": strict}
        return self.submit("load", work, params=params, origin=origin, on_done=on_done)

    def submit_rollback(self, batch_id: int, *, origin: str = "api") -> Job:
        """Queue undoing batch ``batch_id``."""

        def work(wh: Warehouse) -> dict[str, Any]:
            from crossinvest.warehouse.rollback import BatchNotFound, rollback_batch

            try:
                return rollback_batch(wh, batch_id)
            except BatchNotFound as e:
                raise Refused(str(e)) from e

        return self.submit("rollback", work, params={"batch": batch_id}, origin=origin)

    def submit_link_decision(
        self, link_id: int, decision: str, reviewer: str, *, origin: str = "api"
    ) -> Job:
        """Queue an analyst's decision on link ``link_id`` ('accepted' or 'rejected').

        The work is ``linkage.review.decide``: one transaction that also refreshes the
        figures of the enterprises the link re-ties; its result is the job's result.
        """

        def work(wh: Warehouse) -> dict[str, Any]:
            from crossinvest.linkage.review import LinkError, decide

            try:
                return decide(wh.con, link_id, decision, reviewer)
            except LinkError as e:  # gone since it was looked up (a rollback, a relink)
                raise Refused(str(e)) from e

        params = {"link": link_id, "decision": decision, "reviewer": reviewer}
        return self.submit("link", work, params=params, origin=origin)

    def submit_name_index(self, *, origin: str = "server") -> Job:
        """Queue bringing the search's name index up to date (``warehouse.name_index.refresh``)."""

        def work(wh: Warehouse) -> dict[str, Any]:
            from crossinvest.warehouse.name_index import refresh

            return refresh(wh.con)

        return self.submit("name_index", work, params={}, origin=origin, changes_data=False)

    def job(self, job_id: int) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def jobs(self) -> list[Job]:
        """The jobs kept, oldest first; upkeep (``changes_data=False``) is not listed."""
        with self._lock:
            return [j for j in self._jobs.values() if j.changes_data]

    def pending(self) -> int:
        return self._queue.qsize()

    def upkeep_running(self) -> bool:
        """Whether an upkeep job (``changes_data=False``) is queued or running."""
        with self._lock:
            return any(not j.changes_data and not j.finished for j in self._jobs.values())

    # -- the thread ------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            self._run(job)

    def _run(self, job: Job) -> None:
        job.status = "running"
        job.started_at = time.time()
        begin, end = (self._on_begin, self._on_end) if job.changes_data else (_noop, _noop)
        begin()
        try:
            result = job.fn(self.wh)
        except Refused as e:
            end()
            self._finish(job, "refused", error={"code": "refused", "message": str(e)})
        except Exception as e:  # a failed load has rolled back; the server keeps serving
            end()
            log.error("write job %s failed:\n%s", job.id, traceback.format_exc())
            self._finish(
                job, "failed", error={"code": "failed", "message": f"{type(e).__name__}: {e}"}
            )
        else:
            end()
            self._finish(job, "done", result=result)

    @staticmethod
    def _finish(
        job: Job, status: str, *, result: dict | None = None, error: dict | None = None
    ) -> None:
        job.status = status
        job.result = result
        job.error = error
        job.finished_at = time.time()
        # callbacks first: whoever waits on ``done`` sees their effects (a moved inbox file)
        for cb in job.on_done:
            try:
                cb(job)
            except Exception:
                log.exception("callback of job %s failed", job.id)
        job.done.set()
