"""The inbox: files dropped into ``CROSSINVEST_HOME/inbox/<source>/`` are loaded.

The exchange platform (or an operator) copies deliveries there; the server
polls, waits until a file's size and mtime hold still for one poll (so a copy
in progress is not read half-written), moves it to ``.processing/`` and queues
it on the writer. When the job ends the file goes to ``loaded/`` or
``refused/`` beside a ``<name>.result.json`` saying what happened.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from crossinvest.web.writer import Job, Writer

log = logging.getLogger("crossinvest.web")

SUFFIXES = {".csv", ".tsv", ".txt", ".xlsx"}
SOURCES = ("registry", "shareholders", "tax", "stats")


class InboxWatcher:
    """Polls ``root/<source>/`` every ``interval`` seconds; ``scan_once`` does one pass."""

    def __init__(self, root: Path, writer: Writer, *, interval: float = 5.0):
        self.root = root
        self.writer = writer
        self.interval = interval
        self._seen: dict[Path, tuple[int, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="crossinvest-inbox", daemon=True)
        for s in SOURCES:
            (root / s).mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.scan_once()
            except Exception:
                log.exception("inbox scan failed")

    def scan_once(self) -> list[Job]:
        """Queue every file that has held still since the previous scan."""
        jobs: list[Job] = []
        present: set[Path] = set()
        for source in SOURCES:
            folder = self.root / source
            for path in sorted(folder.glob("*")):
                if (
                    not path.is_file()
                    or path.suffix.lower() not in SUFFIXES
                    or path.name.startswith(".")
                ):
                    continue
                present.add(path)
                st = path.stat()
                sig = (st.st_size, st.st_mtime)
                if self._seen.get(path) != sig:
                    self._seen[path] = sig
                    continue
                del self._seen[path]
                jobs.append(self._queue(source, path))
        for gone in set(self._seen) - present:
            del self._seen[gone]
        return jobs

    def _queue(self, source: str, path: Path) -> Job:
        processing = path.parent / ".processing"
        processing.mkdir(exist_ok=True)
        moved = processing / path.name
        path.replace(moved)

        def done(job: Job) -> None:
            target = path.parent / ("loaded" if job.status == "done" else "refused")
            target.mkdir(exist_ok=True)
            final = target / path.name
            moved.replace(final)
            report = {"status": job.status, "result": job.result, "error": job.error}
            final.with_name(final.name + ".result.json").write_text(
                json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8"
            )

        return self.writer.submit_load(source, moved, origin="inbox", on_done=done)
