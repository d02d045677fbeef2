"""Which classes are task-irrelevant (TI) and which task-relevant (TR), and checking they stay apart."""

from __future__ import annotations

from pathlib import Path

from xmt.data.sets.adapters import Found
from xmt.data.sets.pairing import Pairs
from xmt.data.sets.text import read_lines
from xmt.data.validation import Problems
from xmt.errors import UserError


def read_class_list(value: str, option: str) -> list[str]:
    """A class list given as a folder (its subfolders), a text file (one a line, # comments) or `a,b,c`."""
    path = Path(value)
    if path.is_dir():
        names = sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    elif path.is_file():
        lines = read_lines(path, f"class list of {option}")
        names = [line.split("#", 1)[0].strip() for line in lines]
    else:
        names = [name.strip() for name in value.split(",")]
    names = [name for name in names if name]
    if not names:
        raise UserError(f"{option} names no classes", path=value if path.exists() else None)
    return names


def _need_classes(pairs: Pairs, option: str) -> list[str]:
    if pairs.classes is None:
        raise UserError(f"the pairs have no classes, so {option} cannot apply (use class folders or a class column)",
                        path=pairs.rgb.source)
    return pairs.classes


def drop_tr_classes(pairs: Pairs, tr_classes: list[str], problems: Problems, origin: str) -> Pairs:
    """Report every TI class that is also a TR class (from `origin`), and leave its pairs out."""
    shared = sorted(set(_need_classes(pairs, origin)) & set(tr_classes))
    for name in shared:
        folder = Path(pairs.rgb.source) / name
        where = folder if folder.is_dir() else f"class {name!r}"
        problems.add(where, f"class {name!r} is also a task-relevant class ({origin}); TI data must be of other classes")
    return pairs.of_classes(set(pairs.classes) - set(shared)) if shared else pairs


def split_by_ti_classes(pairs: Pairs, ti_classes: list[str]) -> tuple[Pairs, Pairs]:
    """(TI pairs: those of `ti_classes`, TR pairs: all others)."""
    classes = _need_classes(pairs, "--ti-classes")
    unknown = sorted(set(ti_classes) - set(classes))
    if unknown:
        raise UserError(f"--ti-classes names classes the data does not hold: {', '.join(unknown)} "
                        f"(it holds {', '.join(classes)})", path=pairs.rgb.source)
    return pairs.of_classes(set(ti_classes)), pairs.of_classes(set(classes) - set(ti_classes))


def choose_ti(found: Found, ti_classes: list[str] | None, tr_classes: list[str] | None,
              problems: Problems) -> tuple[Pairs, Pairs | None]:
    """(TI pairs, TR pairs or None): by the format's protocol or --ti-classes, then checked against TR lists."""
    pairs = found.pairs
    if found.protocol_tr is not None:
        if ti_classes:
            raise UserError("--ti-classes and --protocol socket both choose the TI classes; give one of them")
        ti, tr = pairs.of_classes(set(pairs.classes) - set(found.protocol_tr)), pairs.of_classes(set(found.protocol_tr))
    elif ti_classes:
        ti, tr = split_by_ti_classes(pairs, ti_classes)
    else:
        ti, tr = pairs, None
    if found.declared_tr:
        ti = drop_tr_classes(ti, found.declared_tr, problems, found.declared_by)
    if tr_classes:
        ti = drop_tr_classes(ti, tr_classes, problems, "--tr-classes")
    return ti, tr
