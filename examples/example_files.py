"""File helpers the example scripts share: each output appears whole or not at all, as xmt's own do."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable

from PIL import Image


def write_text(path: Path, text: str) -> None:
    """`text` at `path`, written beside it first and renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def write_json(path: Path, record: dict) -> None:
    """`record` as indented JSON at `path`, whole or not at all."""
    write_text(path, json.dumps(record, indent=2))


def transform_images(src: Path, dst: Path, transform: Callable[[Image.Image], Image.Image]) -> None:
    """Copy every PNG under `src` to the same place under `dst`, as `transform` makes it; `dst` is replaced."""
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for path in sorted(src.rglob("*.png")):
        out = tmp / path.relative_to(src)
        out.parent.mkdir(parents=True, exist_ok=True)
        transform(Image.open(path)).save(out)
    shutil.rmtree(dst, ignore_errors=True)
    tmp.rename(dst)


def check_same_layout(rgb_paths: list[str], rgb_root: Path, target_paths: list[str], target_root: Path) -> None:
    """Two folders of one benchmark split must hold the same scenes, in the same order (class/name.png each)."""
    if [Path(p).relative_to(rgb_root) for p in rgb_paths] != [Path(p).relative_to(target_root) for p in target_paths]:
        raise SystemExit(f"{rgb_root} and {target_root} do not hold the same scenes in the same layout")
