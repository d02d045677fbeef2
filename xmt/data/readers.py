"""Image sets: one abstraction over class folders, flat folders, list files and HDF5 packs.

An image set is a list of samples of one modality (a source path each, an optional label) and a
way to read sample i in native units at the recipe's size. Which kind a path is follows from it:
a folder, a `.h5`/`.hdf5` pack, or any other file as a list file.

- `DIR/<class>/<file>`: labelled; classes are the sorted folder names.
- `DIR/<file>`: unlabelled.
- list file: one `path [label]` a line (TAB-separated when the path holds spaces); paths relative
  to the list file's folder (or `root`); `#` starts a comment; all lines labelled or none. A label
  is a class name, or an integer index (SOCKET's and tllib's lists) naming the class of that index
  in `classes`, else the folder its images lie in.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from xmt.data.encoding import EncodingRecipe
from xmt.data.modalities import IMAGE_SUFFIXES, check_modality, read_stored, stored_to_native
from xmt.data.validation import Problems
from xmt.engine.console import warn
from xmt.engine.formats import sniff
from xmt.engine.hashing import sha256_lines
from xmt.errors import UserError

PACK_SUFFIXES = (".h5", ".hdf5")
def is_image_file(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_SUFFIXES


@dataclass
class ImageSet:
    """Samples of one modality read from image files."""

    source: Path
    modality: str
    paths: list[str]
    labels: np.ndarray  # int64 per sample, -1 when unlabelled
    classes: list[str] | None = None
    depth_scale_mm: float | None = None
    kind: str = field(default="files")
    # class name -> its integer label in a list file of integer labels (kept in artifacts' provenance)
    list_labels: dict[str, int] | None = field(default=None, kw_only=True)

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def labelled(self) -> bool:
        return self.classes is not None

    def read_stored(self, index: int) -> np.ndarray:
        """Sample `index` as its file stores it (before conversion to native units)."""
        return read_stored(self.paths[index], self.modality)

    def to_native(self, stored: np.ndarray, index: int) -> np.ndarray:
        """Stored values of sample `index` -> native units (depth: millimetres)."""
        return stored_to_native(stored, self.modality, self.depth_scale_mm, self.paths[index])

    def read_raw(self, index: int) -> np.ndarray:
        """Sample `index` in native units, at its stored size."""
        return self.to_native(self.read_stored(index), index)

    def read(self, index: int, recipe: EncodingRecipe) -> np.ndarray:
        """Sample `index` in native units, checked against and resized by `recipe`."""
        array = self.read_raw(index)
        recipe.check_native(array, path=self.paths[index])
        return recipe.resize_image(array)

    @property
    def files_read_plainly(self) -> bool:
        """Whether a list of these files, read with no options, gives what this set reads."""
        return self.depth_scale_mm is None

    def fingerprint(self) -> str:
        """sha256 of the sample paths in order: identifies which images, in which order."""
        return sha256_lines(self.paths)

    def provenance(self) -> dict:
        """What identifies this input in an artifact's metadata."""
        provenance = {"path": str(self.source), "kind": self.kind, "modality": self.modality,
                      "count": len(self), "sha256_paths": self.fingerprint()}
        if self.list_labels is not None:
            provenance["list_labels"] = self.list_labels
        return provenance

    def check_labels(self) -> None:
        """A labelled set needs one label per image, each naming one of its classes."""
        labels = np.asarray(self.labels)
        if labels.ndim != 1 or len(labels) != len(self.paths):
            raise UserError(f"holds {labels.size} labels for {len(self.paths)} images (truncated or corrupt?)",
                            path=self.source)
        if self.classes is None:
            return
        bad = np.flatnonzero((labels < 0) | (labels >= len(self.classes)))
        if len(bad):
            raise UserError(f"label {int(labels[bad[0]])} of image {int(bad[0])} is not one of its {len(self.classes)} "
                            f"classes (0..{len(self.classes) - 1}; {len(bad)} such labels: truncated or corrupt?)",
                            path=self.source)

    def labels_for(self, model_classes: list[str]) -> np.ndarray:
        """This set's labels as indices into `model_classes`; unknown class names are an error."""
        if self.classes is None:
            raise UserError("holds no labels (expected DIR/<class>/<file>, a labelled list or pack)", path=self.source)
        self.check_labels()
        unknown = [name for name in self.classes if name not in model_classes]
        if unknown:
            raise UserError(
                f"classes {unknown[:5]} are not among the model's {len(model_classes)} classes "
                f"({', '.join(model_classes[:8])}{', ...' if len(model_classes) > 8 else ''})",
                path=self.source,
            )
        lookup = np.array([model_classes.index(name) for name in self.classes] + [-1], dtype=np.int64)
        return lookup[self.labels]  # -1 indexes the trailing -1

    def describe(self) -> str:
        what = f"{len(self.classes)} classes" if self.classes is not None else "unlabelled"
        return f"{len(self)} {self.modality} images ({what}) from {self.source}"


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
        return _from_folder(path, modality, depth_scale_mm, Problems(strict=True) if problems is None else problems)
    content = sniff(path)
    if content == "hdf5":  # a pack, whatever its name
        from xmt.data.packs import PackImageSet

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
    return _from_list(path, modality, depth_scale_mm, root, problems, classes, labels_optional)


def _no_classes_file(classes: list[str] | None, path: Path, what: str) -> None:
    if classes is not None:
        raise UserError(f"is {what}; --classes names the integer labels of a list file", path=path)


def _from_folder(root: Path, modality: str, depth_scale_mm: float | None, problems: Problems) -> ImageSet:
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
        raise UserError("holds no images" + (f" (only dangling links, e.g. {dangling[0].name})" if dangling else ""),
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


def _report_dangling(entries: list[Path], problems: Problems) -> list[Path]:
    """Symbolic links whose target is gone are problems (not silently skipped); returns them."""
    dangling = [p for p in entries if p.is_symlink() and not p.exists()]
    for link in dangling:
        problems.add(link, f"dangling symbolic link (its target {os.readlink(link)} does not exist)")
    return dangling


ListRow = tuple[int, str, str | None]  # (line number, path, label or None)


def read_list_rows(list_file: Path) -> list[ListRow]:
    """The `path [label]` lines of a list file (TAB-separated when paths hold spaces; `#` comments)."""
    try:
        lines = list_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read list file ({exc})", path=list_file)
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


def _from_list(list_file: Path, modality: str, depth_scale_mm: float | None, root: Path | None,
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
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UserError("no such classes file", path=path)
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read classes file ({exc})", path=path)
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
