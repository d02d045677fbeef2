"""Errors that the CLI turns into exit codes and one-line messages."""

from __future__ import annotations

from pathlib import Path


class XmtError(Exception):
    """Base of every error xmt reports without a traceback."""

    exit_code = 1

    def __init__(self, message: str, path: str | Path | None = None):
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)


class UserError(XmtError):
    """Bad usage or bad input: exit code 2, one line naming the file and what is wrong."""

    exit_code = 2


class RunFailure(XmtError):
    """The run itself failed (a non-finite loss, say): exit code 1."""

    exit_code = 1
