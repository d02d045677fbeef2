"""Image folders: `DIR/<class>/<file>` (labelled, classes the sorted folder names) or `DIR/<file>` (unlabelled)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np

from xmt.data.modalities import IMAGE_SUFFIXES
from xmt.data.sets.image_set import ImageSet
from xmt.data.validation import Problems
from xmt.errors import UserError


def is_image_file(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_SUFFIXES


def read_folder(root: Path, modality: str, depth_scale_mm: float | None, problems: Problems) -> ImageSet:
    entries = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    dangling = _report_dangling(entries, problems)
    class_dirs = [p for p in entries if p.is_dir()]
    files = [p for p in entries if is_image_file(p)]
    if class_dirs and files:
        raise UserError("mixes image files and class folders; expected DIR/<class>/<file> or DIR/<file>", path=root)
    if files:
        return ImageSet(root, modality, [str(p) for p in files], np.full(len(files), -1, np.int64),
                        None, depth_scale_mm)
    if not class_dirs:
        raise UserError("holds no images" + (f" (only broken links or non-files, e.g. {dangling[0].name})"
                                             if dangling else ""),
                        path=root)
    paths, labels, classes = [], [], []
    for class_dir in class_dirs:
        listed = sorted(p for p in class_dir.iterdir() if not p.name.startswith("."))
        _report_dangling(listed, problems)
        images = [p for p in listed if is_image_file(p)]
        if not images:
            problems.add(class_dir, "class folder holds no images")
            continue
        paths += [str(p) for p in images]
        labels += [len(classes)] * len(images)
        classes.append(class_dir.name)
    return ImageSet(root, modality, paths, np.array(labels, np.int64), classes, depth_scale_mm)


def _report_dangling(entries: list[Path], problems: Problems) -> list[Path]:
    """Symbolic links whose target is gone or that loop, and entries named as images that are not regular files
    (a FIFO, a device), are problems, not silently skipped; returns them."""
    bad = []
    for entry in entries:
        if entry.is_symlink() and not entry.exists():
            problems.add(entry, _broken_link(entry))
            bad.append(entry)
        elif entry.suffix.lower() in IMAGE_SUFFIXES and entry.exists() and not entry.is_file() and not entry.is_dir():
            problems.add(entry, "named as an image but not a regular file (a FIFO, socket or device)")
            bad.append(entry)
    return bad


def _broken_link(link: Path) -> str:
    try:
        link.resolve(strict=True)
    except (RuntimeError, OSError) as exc:  # a loop: RuntimeError (Python 3.11) or ELOOP
        if isinstance(exc, RuntimeError) or exc.errno == errno.ELOOP:
            return f"symbolic link loop (its target {os.readlink(link)} leads back to itself)"
    return f"dangling symbolic link (its target {os.readlink(link)} does not exist)"
