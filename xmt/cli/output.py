"""What a command prints on stdout (its result, and only that) and records of its options."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from xmt.engine.distributed import is_main


def emit(result: Any, as_json: bool) -> None:
    """Results, and only results, go to stdout: JSON with --json, else a path or plain text (once, under torchrun)."""
    if not is_main():
        return
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2, default=str) + "\n")
    elif result is not None:
        sys.stdout.write(f"{result}\n")
    sys.stdout.flush()


def options_of(local_vars: dict,
               drop: tuple[str, ...] = ("config", "quiet", "json_output", "force", "resume")) -> dict:
    """The effective options of a command, for the artifact's metadata (declared settings among them)."""
    values = {**local_vars, **local_vars.get("declared", {}), **local_vars.get("shared", {})}
    return {k: _plain(v) for k, v in values.items() if k not in drop + ("declared", "shared")}


def _plain(value):
    """A value as JSON holds it: paths (also in lists) as strings."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value) if isinstance(value, Path) else value
