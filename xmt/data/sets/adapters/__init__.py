"""Adapters for published paired data sets: each finds the pairs of a release in its own layout.

`find_pairs(format, root, options, problems)` returns every pair found, labelled by the data
set's classes, plus what the format says about task-relevant (TR) classes. Each adapter is a module
of this package whose `find(root, options, problems) -> Found` registers itself in FORMATS. An adapter
with options of its own (sunrgbd's --sensors and --protocol) declares them as the settings of a dataclass
(xmt/settings.py) named by its find's `options` attribute: they become prepare-ti options, and the
adapter reads them from `options.own`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from xmt.data.sets.pairing import Pairs
from xmt.data.validation import Problems
from xmt.errors import UserError
from xmt.registry import Registry, import_submodules
from xmt.settings import check_declared, foreign_setting


@dataclass
class AdapterOptions:
    modality: str | None = None  # the target modality, where the format does not fix it
    depth_scale_mm: float | None = None
    own: Any = None  # the format's own options (an instance of its find's `options`), None where it has none


@dataclass
class Found:
    pairs: Pairs
    declared_tr: list[str] | None = None  # TR classes the data set declares: TI data must not share them
    declared_by: str = ""  # where declared_tr comes from, for messages
    protocol_tr: list[str] | None = None  # classes a protocol sets apart as TR (SOCKET's split)


FORMATS: Registry[Callable[[Path, AdapterOptions, Problems], Found]] = Registry("format")


def find_pairs(format_name: str, root: Path, options: AdapterOptions, problems: Problems) -> Found:
    find = FORMATS.get(format_name)
    if not root.exists():
        raise UserError(f"no such file or folder (the {format_name} root)", path=root)
    return find(root, options, problems)


def options_class(format_name: str) -> type | None:
    """The dataclass of the format's own options, None where it has none."""
    return getattr(FORMATS.get(format_name), "options", None)


def format_option_classes() -> list[type]:
    """The own options of every registered format that has some: what prepare-ti makes options of."""
    return [cls for name in FORMATS if (cls := options_class(name)) is not None]


def own_options(format_name: str | None, values: dict) -> Any:
    """The options of `format_name` (None: no --format) from `values`, which hold every format's as prepare-ti
    gathers them, checked; another format's option at other than its default is refused, naming its formats."""
    cls = options_class(format_name) if format_name is not None else None
    foreign = foreign_setting(values, cls, {name: c for name in FORMATS if (c := options_class(name)) is not None})
    if foreign is not None:
        raise UserError(f"{foreign[0].flag} applies to --format {' or '.join(foreign[1])} only")
    if cls is None:
        return None
    own = cls(**{f.name: values[f.name] for f in dataclasses.fields(cls) if f.name in values})
    check_declared(own)
    return own


def require_modality(options: AdapterOptions, fixed: str, format_name: str) -> None:
    """Formats whose target modality is fixed accept only that one."""
    if options.modality not in (None, fixed):
        raise UserError(f"--format {format_name} holds {fixed} images, not {options.modality}")


# Last: the adapters import the names above. Importing all four costs milliseconds (h5py and numpy are loaded
# by then anyway), so they are not imported lazily.
import_submodules(__name__)
