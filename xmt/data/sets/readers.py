"""Opening any input as an image set: class folders, flat folders, list files and HDF5 packs.

Which kind a path is follows from it: a folder (sets/folders.py), a `.h5`/`.hdf5` pack or any
HDF5 file (packs/reader.py), or any other file as a list file (sets/lists.py).

- `DIR/<class>/<file>`: labelled; classes are the sorted folder names.
- `DIR/<file>`: unlabelled.
- list file: one `path [label]` a line (TAB-separated when the path holds spaces); paths relative
  to the list file's folder (or `root`); `#` starts a comment; all lines labelled or none. A label
  is a class name, or an integer index (SOCKET's and tllib's lists) naming the class of that index
  in `classes`, else the folder its images lie in.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from xmt.data.modalities import IMAGE_SUFFIXES, check_modality
from xmt.data.packs.reader import PackImageSet
from xmt.data.sets.folders import read_folder
from xmt.data.sets.image_set import ImageSet
from xmt.data.sets.lists import read_list
from xmt.data.validation import Problems
from xmt.engine.formats import sniff
from xmt.errors import UserError

PACK_SUFFIXES = (".h5", ".hdf5")


def open_image_set(
    path: str | Path,
    modality: str,
    depth_scale_mm: float | None = None,
    root: str | Path | None = None,
    problems: Problems | None = None,
    classes: list[str] | None = None,
    labels_optional: bool = False,
) -> ImageSet:
    """Open a folder, list file or pack as an image set of `modality`.

    Without `problems` the first bad entry (an empty class folder, a missing listed file) is an
    error; with it, bad entries are recorded there and left out of the set. `root` is the base of a
    list's relative paths (default: its folder); `classes` names a list's labels (line i of a
    --classes file: label i). With `labels_optional` (stages that train without labels), a list's
    labels that cannot be named are left unread with a warning instead of an error.
    """
    check_modality(modality)
    path = Path(path)
    if not path.exists():
        raise UserError("no such file or folder", path=path)
    if path.is_dir():
        _no_classes_file(classes, path, "a folder (its class folders name the classes)")
        return read_folder(path, modality, depth_scale_mm, Problems(strict=True) if problems is None else problems)
    content = sniff(path)
    if content == "hdf5":  # a pack, whatever its name
        _no_classes_file(classes, path, "a pack (it holds its class names)")
        return PackImageSet.open(path, modality)
    if path.suffix.lower() in PACK_SUFFIXES:
        held = " (it holds a safetensors checkpoint)" if content == "safetensors" else ""
        raise UserError(f"is not an HDF5 file{held}; a pack is the .h5 file xmt pack or xmt prepare-ti writes", path=path)
    if content == "safetensors":
        raise UserError("is a safetensors checkpoint, not images; give a folder, a list file or a pack", path=path)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        raise UserError("is a single image; give a folder, a list file or a pack", path=path)
    root = Path(root).absolute() if root else None  # the same images give the same paths from any folder
    return read_list(path, modality, depth_scale_mm, root, problems, classes, labels_optional)


def _no_classes_file(classes: list[str] | None, path: Path, what: str) -> None:
    if classes is not None:
        raise UserError(f"is {what}; --classes names the integer labels of a list file", path=path)


def drop_duplicates(images: ImageSet, problems: Problems, base: str | Path | None = None) -> ImageSet:
    """Images that a pack would store twice (a list naming one file twice, or one stem with two extensions such
    as a/0.png beside a/0.jpg) are problems, named with the paths they clash with, and left out of the set."""
    if images.kind != "files":
        return images
    groups: dict[str, list[int]] = defaultdict(list)
    for index, path in enumerate(images.paths):
        groups[os.path.splitext(os.path.normpath(path))[0]].append(index)
    clashing: set[int] = set()
    for rows in groups.values():
        if len(rows) < 2:
            continue
        clashing.update(rows)
        names = sorted({images.paths[i] for i in rows})
        if len(names) == 1:
            problems.add(names[0], f"listed {len(rows)} times (a pack stores each image once)")
        else:
            others = ", ".join(_relative(name, base) for name in names[1:])
            problems.add(names[0], f"duplicate stem: also {others} (a pack stores one image per stem)")
    if not clashing:
        return images
    keep = [i for i in range(len(images)) if i not in clashing]
    return replace(images, paths=[images.paths[i] for i in keep], labels=images.labels[keep])


def _relative(path: str, base: str | Path | None) -> str:
    try:
        return str(Path(path).relative_to(base)) if base is not None else path
    except ValueError:
        return path
