"""List files: one `path [label]` a line, and the --classes files that name integer labels.

Paths are TAB-separated from labels when they hold spaces, relative to the list file's folder (or
`root`); `#` starts a comment; all lines are labelled or none. A label is a class name, or an
integer index (SOCKET's and tllib's lists) naming the class of that index in `classes`, else the
folder its images lie in.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from xmt.data.sets.image_set import ImageSet
from xmt.data.sets.text import read_lines
from xmt.data.validation import Problems
from xmt.engine.console import warn
from xmt.errors import UserError

ListRow = tuple[int, str, str | None]  # (line number, path, label or None)


def read_list_rows(list_file: Path) -> list[ListRow]:
    """The `path [label]` lines of a list file (TAB-separated when paths hold spaces; `#` comments)."""
    lines = read_lines(list_file, "list file")
    rows: list[ListRow] = []
    for number, line in enumerate(lines, start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split("\t") if "\t" in line else line.split()
        if len(fields) > 2:
            raise UserError(f"line {number}: expected 'path [label]', got {len(fields)} fields "
                            "(separate with a TAB when paths hold spaces)", path=list_file)
        rows.append((number, fields[0].strip(), fields[1].strip() if len(fields) == 2 else None))
    if not rows:
        raise UserError("list file names no images", path=list_file)
    return rows


def resolve_listed(list_file: Path, names: list[str], root: Path | None) -> list[str]:
    """Listed paths as paths to open: relative ones against `root`, else against the list's folder.

    When some are missing there but exist relative to the working directory (SOCKET's and DECISION's
    lists are written so), the error says so and names --root, rather than count them missing.
    """
    base = root if root is not None else list_file.parent
    paths = [str(p if (p := Path(name)).is_absolute() else base / p) for name in names]
    if root is None:
        missing = [name for name, path in zip(names, paths) if not Path(path).is_file()]
        from_cwd = [name for name in missing if Path(name).is_file()]
        if from_cwd:
            raise UserError(f"{len(missing)} listed images do not exist relative to the list's folder "
                            f"(first: {missing[0]}), but {len(from_cwd)} of them do relative to the working "
                            f"directory: pass --root . (relative paths resolve against --root, by default the "
                            f"list's folder)", path=list_file)
    return paths


def read_list(list_file: Path, modality: str, depth_scale_mm: float | None, root: Path | None,
               problems: Problems | None, classes: list[str] | None, labels_optional: bool) -> ImageSet:
    rows = read_list_rows(list_file)
    labelled = [label is not None for _, _, label in rows]
    if any(labelled) and not all(labelled):
        first = labelled.index(False) if labelled[0] else labelled.index(True)
        raise UserError(f"some lines have a label and some do not (e.g. entry {first + 1})", path=list_file)
    paths = resolve_listed(list_file, [name for _, name, _ in rows], root)
    exists = [Path(p).is_file() for p in paths]
    missing = [p for p, ok in zip(paths, exists) if not ok]
    if missing and problems is None:
        raise UserError(f"{len(missing)} listed images do not exist (first: {missing[0]})", path=list_file)
    for path in missing:
        problems.add(path, f"listed in {list_file.name} but does not exist")
    rows = [(number, path, label) for (number, _, label), path, ok in zip(rows, paths, exists) if ok]
    paths = [path for _, path, _ in rows]
    unlabelled = ImageSet(list_file, modality, paths, np.full(len(paths), -1, np.int64), None, depth_scale_mm)
    if not all(labelled):
        return unlabelled
    try:
        names, labels, list_labels = _list_classes(list_file, rows, classes)
    except UserError as exc:
        if not labels_optional:
            raise
        warn(f"{exc}; its labels are left unread")
        return unlabelled
    return ImageSet(list_file, modality, paths, labels, names, depth_scale_mm, list_labels=list_labels)


def _is_index(label: str) -> bool:
    return re.fullmatch(r"[0-9]+", label) is not None


CLASSES_HINT = "give the class names with --classes FILE (one a line, line i naming label i)"


def _list_classes(list_file: Path, rows: list[ListRow], classes: list[str] | None):
    """(class names, label of each row, integer label of each class or None) of a labelled list."""
    written = [label for _, _, label in rows]
    negative = next(((number, label) for number, _, label in rows if re.fullmatch(r"-[0-9]+", label)), None)
    if negative is not None and all(re.fullmatch(r"-?[0-9]+", label) for label in written):
        raise UserError(f"line {negative[0]}: label {negative[1]} is negative; integer labels index the classes "
                        "from 0", path=list_file)
    if not all(_is_index(label) for label in written):  # class names
        names = list(classes) if classes is not None else sorted(set(written))
        index = {name: i for i, name in enumerate(names)}
        unknown = next(((number, label) for number, _, label in rows if label not in index), None)
        if unknown is not None:
            raise UserError(f"line {unknown[0]}: class {unknown[1]!r} is not one of the {len(names)} classes of "
                            "--classes", path=list_file)
        return names, np.array([index[label] for label in written], np.int64), None
    indices = [int(label) for label in written]
    if classes is not None:
        beyond = next(((number, i) for (number, _, _), i in zip(rows, indices) if i >= len(classes)), None)
        if beyond is not None:
            raise UserError(f"line {beyond[0]}: label {beyond[1]} is beyond the {len(classes)} classes of --classes "
                            f"(labels 0..{len(classes) - 1})", path=list_file)
        return list(classes), np.array(indices, np.int64), {name: i for i, name in enumerate(classes)}
    folder_of = _folder_names(list_file, rows, indices)
    order = sorted(folder_of)  # classes in the order of their integers (with gaps closed)
    position = {index: i for i, index in enumerate(order)}
    return ([folder_of[i] for i in order], np.array([position[i] for i in indices], np.int64),
            {folder_of[i]: i for i in order})


def _folder_names(list_file: Path, rows: list[ListRow], indices: list[int]) -> dict[int, str]:
    """Integer label -> the name of the folder its images lie in; one folder per label, one label per folder."""
    folder_of: dict[int, tuple[str, int]] = {}  # label -> (folder name, first line)
    label_in: dict[str, tuple[int, int]] = {}  # folder name -> (label, first line)
    for (number, path, _), index in zip(rows, indices):
        folder = Path(path).parent.name
        seen, line = folder_of.setdefault(index, (folder, number))
        if seen != folder:
            raise UserError(f"label {index} is on images in two folders, {seen} (line {line}) and {folder} "
                            f"(line {number}), so folder names cannot name the classes; {CLASSES_HINT}",
                            path=list_file)
        other, line = label_in.setdefault(folder, (index, number))
        if other != index:
            raise UserError(f"folder {folder} holds images of labels {other} (line {line}) and {index} "
                            f"(line {number}), so folder names cannot name the classes; {CLASSES_HINT}",
                            path=list_file)
    return {index: folder for index, (folder, _) in folder_of.items()}


def read_classes_file(path: str | Path) -> list[str]:
    """A --classes file: one class name a line, line i naming integer label i."""
    path = Path(path)
    lines = read_lines(path, "classes file")
    names = [line.strip() for line in lines]
    while names and not names[-1]:
        names.pop()
    if not names:
        raise UserError("classes file names no classes", path=path)
    if "" in names:
        raise UserError(f"line {names.index('') + 1} is blank; line i names label i, so every line must name a "
                        "class", path=path)
    twice = next((name for i, name in enumerate(names) if name in names[:i]), None)
    if twice is not None:
        raise UserError(f"class {twice!r} is named twice (lines {names.index(twice) + 1} and "
                        f"{names.index(twice, names.index(twice) + 1) + 1})", path=path)
    return names
