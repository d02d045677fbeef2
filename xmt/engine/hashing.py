"""sha256 fingerprints for provenance."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable


def sha256_file(path: str | Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_lines(lines: Iterable[str]) -> str:
    """Fingerprint of a list of strings (e.g. the sorted input paths of a data set)."""
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode("utf-8", "surrogateescape"))  # any file name, even one not UTF-8
        digest.update(b"\n")
    return digest.hexdigest()


def input_identity(path: str | Path | None) -> str | None:
    """What a resumed run checks an input against: a file's sha256; for a folder, its files' names, sizes and
    modification times (cheap, and changed by any rewrite). None for an input not given."""
    if path is None:
        return None
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    entries = sorted(p for p in path.rglob("*") if p.is_file())
    return sha256_lines(f"{p.relative_to(path)}\t{p.stat().st_size}\t{p.stat().st_mtime_ns}" for p in entries)
