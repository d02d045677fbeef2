"""Paired data: RGB images matched with their target-modality partners, row by row.

Pairs are found by a key (the generic layout's `<class>/<stem>`, a pair list's line, a data
set's frame). Every structural problem (a file without its partner, a duplicate stem, a missing
listed file) is recorded in a Problems collector and the pair left out, so that one run reports
them all.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xmt.data.sets.image_set import ImageSet
from xmt.data.sets.lists import read_list_rows, resolve_listed
from xmt.data.sets.readers import open_image_set
from xmt.data.sets.text import read_lines
from xmt.data.validation import Problems
from xmt.errors import UserError


@dataclass
class Pairs:
    """Row-aligned RGB and target image sets (row i is one pair), with an optional group per row."""

    rgb: ImageSet
    target: ImageSet
    groups: list[str] | None = None  # e.g. the sensor of each SUN RGB-D frame

    def __len__(self) -> int:
        return len(self.rgb)

    @property
    def classes(self) -> list[str] | None:
        return self.rgb.classes

    def class_names(self) -> list[str | None]:
        """The class name of every row (None when unlabelled)."""
        if self.classes is None:
            return [None] * len(self)
        return [self.classes[label] for label in self.rgb.labels]

    def subset(self, rows: list[int]) -> "Pairs":
        """These rows, in this order, with the classes reduced to those still present."""
        names = self.class_names()
        classes = None if self.classes is None else sorted({names[i] for i in rows})
        index = {name: i for i, name in enumerate(classes or [])}
        labels = np.array([index.get(names[i], -1) for i in rows], np.int64)
        return Pairs(subset_images(self.rgb, rows, labels, classes), subset_images(self.target, rows, labels, classes),
                     None if self.groups is None else [self.groups[i] for i in rows])

    def of_classes(self, names: set[str]) -> "Pairs":
        return self.subset([i for i, name in enumerate(self.class_names()) if name in names])

    def image_sets(self) -> dict[str, ImageSet]:
        return {"rgb": self.rgb, self.target.modality: self.target}


def subset_images(images: ImageSet, rows: list[int], labels: np.ndarray, classes: list[str] | None) -> ImageSet:
    return dataclasses.replace(images, paths=[images.paths[i] for i in rows], labels=labels, classes=classes)


def pairs_from_keys(
    rgb: list[tuple[str, str]],
    target: list[tuple[str, str]],
    make_set,
    problems: Problems,
    modality: str,
    class_of=None,
) -> Pairs:
    """Match (key, path) items of both sides by key; rows sorted by key.

    `make_set(modality, paths, labels, classes)` builds each side's ImageSet; `class_of(key)` names
    the class of a key (None: unlabelled).
    """
    rgb_by_key, rgb_ambiguous = _unique(rgb, problems)
    target_by_key, target_ambiguous = _unique(target, problems)
    ambiguous = rgb_ambiguous | target_ambiguous
    for key in sorted(rgb_by_key.keys() - target_by_key.keys() - ambiguous):
        problems.add(rgb_by_key[key], f"no {modality} partner")
    for key in sorted(target_by_key.keys() - rgb_by_key.keys() - ambiguous):
        problems.add(target_by_key[key], "no RGB partner")
    keys = sorted((rgb_by_key.keys() & target_by_key.keys()) - ambiguous)
    return pairs_from_rows([rgb_by_key[k] for k in keys], [target_by_key[k] for k in keys],
                           None if class_of is None else [class_of(k) for k in keys], make_set, modality)


def pairs_from_rows(rgb_paths: list[str], target_paths: list[str], class_names: list[str] | None, make_set,
                    modality: str, groups: list[str] | None = None) -> Pairs:
    """Pairs of these rows; classes are the sorted names present (None: unlabelled)."""
    classes = None if class_names is None else sorted(set(class_names))
    index = {name: i for i, name in enumerate(classes or [])}
    labels = np.array([-1] * len(rgb_paths) if class_names is None else [index[n] for n in class_names], np.int64)
    return Pairs(make_set("rgb", rgb_paths, labels, classes), make_set(modality, target_paths, labels, classes), groups)


def _unique(items: list[tuple[str, str]], problems: Problems) -> tuple[dict[str, str], set[str]]:
    """key -> path for keys held once; keys held by several files are reported and returned apart."""
    by_key: dict[str, list[str]] = defaultdict(list)
    for key, path in items:
        by_key[key].append(path)
    ambiguous = {key for key, paths in by_key.items() if len(paths) > 1}
    for key in sorted(ambiguous):
        for path in by_key[key]:
            others = ", ".join(Path(p).name for p in by_key[key] if p != path)
            problems.add(path, f"duplicate stem (also {others}): its partner is ambiguous")
    return {key: paths[0] for key, paths in by_key.items() if key not in ambiguous}, ambiguous


def file_set_maker(rgb_source: Path, target_source: Path, depth_scale_mm: float | None):
    """A make_set for pairs_from_keys whose sides are plain image files."""
    def make(modality: str, paths: list[str], labels: np.ndarray, classes: list[str] | None) -> ImageSet:
        if modality == "rgb":
            return ImageSet(rgb_source, modality, paths, labels, classes)
        return ImageSet(target_source, modality, paths, labels, classes, depth_scale_mm)
    return make


def pair_folders(rgb_dir: Path, target_dir: Path, modality: str, depth_scale_mm: float | None,
                 problems: Problems) -> Pairs:
    """The generic layout: DIR_RGB/<class>/<file> paired with DIR_TGT/<class>/<file> by <class>/<stem>."""
    for folder in (rgb_dir, target_dir):
        if not folder.is_dir():
            raise UserError("no such folder (the paired layout is DIR/<class>/<file>)", path=folder)
    rgb = open_image_set(rgb_dir, "rgb", problems=problems)
    target = open_image_set(target_dir, modality, depth_scale_mm, problems=problems)
    if rgb.labelled != target.labelled:
        labelled, flat = (rgb_dir, target_dir) if rgb.labelled else (target_dir, rgb_dir)
        raise UserError(f"holds images directly while {labelled} holds class folders; pair like with like",
                        path=flat)

    def keyed(images: ImageSet) -> list[tuple[str, str]]:
        return [(str(Path(p).relative_to(images.source).with_suffix("")), p) for p in images.paths]

    class_of = (lambda key: key.split("/", 1)[0]) if rgb.labelled else None
    return pairs_from_keys(keyed(rgb), keyed(target), file_set_maker(rgb_dir, target_dir, depth_scale_mm), problems,
                           modality, class_of)


def read_pair_list(list_file: Path, modality: str, depth_scale_mm: float | None, root: Path | None,
                   problems: Problems) -> Pairs:
    """A pair list: `rgb_path<TAB>target_path[<TAB>class]` a line, paths relative to `root` or the list's folder.

    `#` starts a comment; without a TAB on a line, fields are split on whitespace. Rows keep the
    list's order.
    """
    lines = read_lines(list_file, "pair list")
    base = root or list_file.parent
    rows: list[tuple[int, str, str, str | None]] = []
    for number, line in enumerate(lines, start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        fields = [f.strip() for f in (line.split("\t") if "\t" in line else line.split())]
        if len(fields) not in (2, 3):
            problems.add(f"{list_file}:{number}", f"expected 'rgb_path<TAB>target_path[<TAB>class]', "
                         f"got {len(fields)} field(s)")
            continue
        rgb, target = (str(p if (p := Path(name)).is_absolute() else base / p) for name in fields[:2])
        rows.append((number, rgb, target, fields[2] if len(fields) == 3 else None))
    if not rows and not problems:
        raise UserError("pair list names no pairs", path=list_file)
    labelled = any(label is not None for *_, label in rows)
    good = []
    for number, rgb, target, label in rows:
        bad = False
        if labelled and label is None:
            problems.add(f"{list_file}:{number}", "no class, while other lines give one")
            bad = True
        for path in (rgb, target):
            if not Path(path).is_file():
                problems.add(path, f"listed on line {number} of {list_file.name} but does not exist")
                bad = True
        if not bad:
            good.append((f"{len(good):09d}", rgb, target, label))
    twice = _report_listed_twice(rows, list_file, problems)
    good = [row for row in good if row[1] not in twice and row[2] not in twice]
    class_of = {key: label for key, _, _, label in good}.get if labelled else None
    return pairs_from_keys([(k, rgb) for k, rgb, _, _ in good], [(k, t) for k, _, t, _ in good],
                           file_set_maker(list_file, list_file, depth_scale_mm), problems, modality, class_of)


def _report_listed_twice(rows, list_file: Path, problems: Problems) -> set[str]:
    """Paths named on several lines (on either side): reported, and returned to be left out."""
    lines: dict[str, list[int]] = defaultdict(list)
    for number, rgb, target, _ in rows:
        lines[rgb].append(number)
        if target != rgb:
            lines[target].append(number)
    twice = {path for path, numbers in lines.items() if len(numbers) > 1}
    for path in sorted(twice):
        problems.add(path, f"listed more than once in {list_file.name} (lines {', '.join(map(str, lines[path]))})")
    for number, rgb, target, _ in rows:
        if rgb == target:
            problems.add(rgb, f"is both the RGB and the target image of line {number} of {list_file.name}")
            twice.add(rgb)
    return twice


# A file stem's trailing modality tag, as in EPFL RGB-NIR's 0001_rgb / 0001_nir or DIML's x_c / x_ud
MODALITY_TAGS = {"rgb", "color", "colour", "image", "img", "col", "c", "depth", "dpth", "d", "ud", "nir", "ir",
                 "thermal"}


def read_aligned_lists(rgb_list: Path, target_list: Path, modality: str, depth_scale_mm: float | None,
                       root: Path | None, problems: Problems) -> Pairs:
    """SOCKET's TI data: an RGB list and a target list of `path [label]` lines, paired line by line.

    Labels are read and ignored, as SOCKET does; the class of a pair is its images' folder (none when
    each list's images lie in one folder of their own, e.g. TI_rgb/ and TI_nir/). Aligned lines must
    be one scene: the same class folder and file stem (a trailing modality tag such as _rgb aside).
    """
    rgb_rows, target_rows = read_list_rows(rgb_list), read_list_rows(target_list)
    if len(rgb_rows) != len(target_rows):
        (longer, more), (shorter, fewer) = sorted([(rgb_list, rgb_rows), (target_list, target_rows)],
                                                  key=lambda item: -len(item[1]))
        raise UserError(f"lists {len(more)} images but {shorter} lists {len(fewer)}: line {more[len(fewer)][0]} "
                        f"has no partner (the two TI lists pair line by line)", path=longer)
    rgb_paths = resolve_listed(rgb_list, [name for _, name, _ in rgb_rows], root)
    target_paths = resolve_listed(target_list, [name for _, name, _ in target_rows], root)
    classed = _classed(rgb_paths, target_paths)
    good: list[tuple[str, str]] = []
    for rgb_row, target_row, rgb, target in zip(rgb_rows, target_rows, rgb_paths, target_paths):
        present = [_exists(path, listed, row, problems)
                   for path, listed, row in ((rgb, rgb_list, rgb_row), (target, target_list, target_row))]
        if not all(present):
            continue
        if not same_scene(rgb, target, classed):
            problems.add(f"{target_list}:{target_row[0]}", f"{target_row[1]} is not the partner of {rgb_row[1]} "
                         f"(line {rgb_row[0]} of {rgb_list.name}): aligned lines must be one scene, the same class "
                         "folder and file stem")
            continue
        good.append((rgb, target))
    twice = _listed_twice(rgb_list, rgb_rows, rgb_paths, problems) | \
        _listed_twice(target_list, target_rows, target_paths, problems)
    good = [(rgb, target) for rgb, target in good if rgb not in twice and target not in twice]
    return pairs_from_rows([rgb for rgb, _ in good], [target for _, target in good],
                           [Path(rgb).parent.name for rgb, _ in good] if classed else None,
                           file_set_maker(rgb_list, target_list, depth_scale_mm), modality)


def same_scene(rgb: str, target: str, classed: bool) -> bool:
    """Whether two listed images are one scene: same stem (modality tags aside) and, if classed, same folder."""
    a, b = Path(rgb), Path(target)
    if classed and a.parent.name != b.parent.name:
        return False
    return a.stem == b.stem or _untagged(a.stem) == _untagged(b.stem)


def _untagged(stem: str) -> str:
    head, sep, tag = stem.rpartition("_")
    return head if sep and head and tag.lower() in MODALITY_TAGS else stem


def _classed(rgb_paths: list[str], target_paths: list[str]) -> bool:
    """Images lie in class folders unless each list's lie in one folder and the two folders' names differ."""
    rgb_folders = {str(Path(p).parent) for p in rgb_paths}
    target_folders = {str(Path(p).parent) for p in target_paths}
    if len(rgb_folders) == 1 and len(target_folders) == 1:
        return Path(rgb_folders.pop()).name == Path(target_folders.pop()).name
    return True


def _exists(path: str, list_file: Path, row, problems: Problems) -> bool:
    """Whether a listed image exists; if not, a problem naming the list, the line and the path as written."""
    if Path(path).is_file():
        return True
    problems.add(f"{list_file}:{row[0]}", f"{row[1]} does not exist")
    return False


def _listed_twice(list_file: Path, rows, paths: list[str], problems: Problems) -> set[str]:
    """Images one list names on several lines: reported, and returned to be left out."""
    lines: dict[str, list[int]] = defaultdict(list)
    for (number, _, _), path in zip(rows, paths):
        lines[path].append(number)
    twice = {path for path, numbers in lines.items() if len(numbers) > 1}
    for path in sorted(twice):
        problems.add(f"{list_file}:{lines[path][0]}", f"{path} is listed more than once "
                     f"(lines {', '.join(map(str, lines[path]))})")
    return twice
