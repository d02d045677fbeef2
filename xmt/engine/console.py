"""Everything xmt says to people goes to standard error; standard output carries only results."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

# Piped or captured stderr has no width: use a wide one so tables and log lines stay whole.
err_console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 160)
_quiet = bool(os.environ.get("XMT_QUIET"))


def set_quiet(quiet: bool) -> None:
    global _quiet
    _quiet = quiet


def info(message: str) -> None:
    """A log line on stderr (silenced by --quiet)."""
    if not _quiet:
        err_console.print(message, markup=False, soft_wrap=True)


def warn(message: str) -> None:
    """A warning on stderr, shown even with --quiet."""
    err_console.print(f"warning: {message}", style="yellow", markup=False, soft_wrap=True)


class Bar:
    """A handle to one progress bar; `advance` and `note` are cheap no-ops when quiet."""

    def __init__(self, progress: Progress | None, task_id: int | None):
        self._progress, self._task = progress, task_id

    def advance(self, steps: int = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, steps)

    def update(self, done: int, total: int) -> None:
        """Set progress outright (for callbacks that report `done of total`)."""
        if self._progress is not None:
            self._progress.update(self._task, completed=done, total=total)

    def note(self, text: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, note=text)


@contextmanager
def progress_bar(description: str, total: int) -> Iterator[Bar]:
    """A rich progress bar with ETA on stderr, removed when done (not drawn when quiet or piped)."""
    if _quiet or not err_console.is_terminal:
        yield Bar(None, None)
        return
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[note]}"),
        console=err_console,
        transient=True,
    )
    with progress:
        yield Bar(progress, progress.add_task(description, total=total, note=""))
