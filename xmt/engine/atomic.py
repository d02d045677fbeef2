"""Outputs appear complete or not at all: written under a temporary name, renamed when done."""

from __future__ import annotations

import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from xmt.errors import UserError


def check_output_free(target: str | Path, force: bool) -> Path:
    """Fail early (before any long work) when `target` exists and --force was not given."""
    target = Path(target)
    if target.exists() and not force:
        raise UserError("already exists; pass --force to overwrite it", path=target)
    return target


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


@contextmanager
def atomic_output(target: str | Path, force: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `target` (a file or a folder the caller creates there).

    On success it is renamed onto `target`; on any failure it is removed, so no partial
    output is ever left behind. An existing `target` is replaced only when `force` is set.
    """
    target = check_output_free(target, force)
    target.parent.mkdir(parents=True, exist_ok=True)
    # keep the suffix, so that writers which infer the format from it (PIL, say) still can
    tmp = target.parent / f".{target.stem}.tmp-{uuid.uuid4().hex[:8]}{target.suffix}"
    try:
        yield tmp
        if not tmp.exists():
            raise RuntimeError(f"internal error: nothing was written to {tmp}")
        if target.is_dir() and not target.is_symlink():
            # os.replace cannot replace a non-empty folder: move the old one aside first.
            old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(target, old)
            os.replace(tmp, target)
            _remove(old)
        else:
            os.replace(tmp, target)
    except BaseException:
        _remove(tmp)
        raise
