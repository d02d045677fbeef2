"""Adapters for published paired data sets: each finds the pairs of a release in its own layout.

`find_pairs(format, root, options, problems)` returns every pair found, labelled by the data
set's classes, plus what the format says about task-relevant (TR) classes. Each adapter is a module
of this package whose `find(root, options, problems) -> Found` registers itself in FORMATS.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from xmt.data.sets.pairing import Pairs
from xmt.data.validation import Problems
from xmt.errors import UserError
from xmt.registry import Registry, import_submodules

PROTOCOLS = ("none", "socket")


@dataclass
class AdapterOptions:
    modality: str | None = None  # the target modality, where the format does not fix it
    depth_scale_mm: float | None = None
    sensors: list[str] | None = None  # sunrgbd
    protocol: str = "none"  # sunrgbd


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
    if format_name != "sunrgbd" and (options.sensors is not None or options.protocol != "none"):
        raise UserError("--sensors and --protocol apply to --format sunrgbd only")
    return find(root, options, problems)


def require_modality(options: AdapterOptions, fixed: str, format_name: str) -> None:
    """Formats whose target modality is fixed accept only that one."""
    if options.modality not in (None, fixed):
        raise UserError(f"--format {format_name} holds {fixed} images, not {options.modality}")


# Last: the adapters import the names above. Importing all four costs milliseconds (h5py and numpy are loaded
# by then anyway), so they are not imported lazily.
import_submodules(__name__)
