"""Progress reporting for long work, as a plain callback.

Library code takes ``progress(label, done, total)`` and knows nothing of Rich;
the command line passes the callback made here, which draws a Rich bar with a
rows/s rate.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

ProgressFn = Callable[[str, int, int], None]


def no_progress(label: str, done: int, total: int) -> None:
    """A callback that draws nothing."""


@contextlib.contextmanager
def rich_progress(disable: bool = False) -> Iterator[ProgressFn]:
    """Yield a ``progress(label, done, total)`` callback drawing one bar per label on stderr."""
    if disable:
        yield no_progress
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        tasks: dict[str, TaskID] = {}

        def update(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=max(total, 1), rate="")
            task_id = tasks[label]
            elapsed = bar.tasks[task_id].elapsed or 0.0
            rate = f"{done / elapsed:,.0f} 行/秒" if elapsed > 0 and done else ""
            bar.update(task_id, completed=done, total=max(total, 1), rate=rate)

        yield update
