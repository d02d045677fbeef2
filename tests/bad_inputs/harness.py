"""The bad-input suite's contract: a stage run on bad input exits with the expected code, prints one
line naming what is wrong, shows no traceback, and adds, changes or removes no file outside the
outputs it owns."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from xmt.cli import main


def snapshot(*roots: Path) -> dict[str, tuple]:
    """Every file, folder and link under `roots`: {path: (kind, size, sha256 or link target)}."""
    seen: dict[str, tuple] = {}
    for root in roots:
        root = Path(root)
        if not root.exists() and not root.is_symlink():
            continue
        entries = [root] + (sorted(root.rglob("*")) if root.is_dir() and not root.is_symlink() else [])
        for path in entries:
            if path.is_symlink():
                seen[str(path)] = ("link", os.readlink(path))
            elif path.is_dir():
                seen[str(path)] = ("dir",)
            elif path.is_file():
                data = path.read_bytes()
                seen[str(path)] = ("file", len(data), hashlib.sha256(data).hexdigest())
    return seen


def changes(before: dict[str, tuple], after: dict[str, tuple]) -> dict[str, list[str]]:
    return {"added": sorted(set(after) - set(before)), "removed": sorted(set(before) - set(after)),
            "changed": sorted(p for p in set(before) & set(after) if before[p] != after[p])}


@dataclass
class Outcome:
    code: int
    out: str
    err: str
    diff: dict[str, list[str]] = field(default_factory=dict)

    @property
    def lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def run_in_process(args: list, capsys, watch: Path) -> Outcome:
    """`xmt ARGS` in this process, with the tree under `watch` compared before and after."""
    before = snapshot(watch)
    capsys.readouterr()
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err, changes(before, snapshot(watch)))


def run_subprocess(args: list, watch: Path, cwd: Path | None = None, timeout: float = 600) -> Outcome:
    """`python -m xmt ARGS` in a fresh process (for signals, crashes and real exit codes)."""
    before = snapshot(watch)
    proc = subprocess.run([sys.executable, "-m", "xmt", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)
    return Outcome(proc.returncode, proc.stdout, proc.stderr, changes(before, snapshot(watch)))


def assert_refused(outcome: Outcome, code: int, *fragments: str, owned: tuple[str, ...] = ()) -> None:
    """Exit `code`, one error line holding every fragment, no traceback, and only `owned` paths touched."""
    assert outcome.code == code, (outcome.code, outcome.err)
    assert "Traceback" not in outcome.err, outcome.err
    errors = [line for line in outcome.lines if "error:" in line]
    assert len(errors) == 1, outcome.err
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
    touched = [p for kind in ("added", "removed", "changed") for p in outcome.diff.get(kind, [])]
    stray = [p for p in touched if not any(p == o or p.startswith(o.rstrip("/") + "/") for o in owned)]
    assert not stray, (outcome.diff, outcome.err)
