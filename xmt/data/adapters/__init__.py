"""Adapters for published paired data sets: each finds the pairs of a release in its own layout.

`find_pairs(format, root, options, problems)` returns every pair found, labelled by the data
set's classes, plus what the format says about task-relevant (TR) classes.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from xmt.data.pairing import Pairs
from xmt.data.validation import Problems
from xmt.errors import UserError

FORMATS = ("sunrgbd", "nyuv2", "rgbnir", "synth")
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


def find_pairs(format_name: str, root: Path, options: AdapterOptions, problems: Problems) -> Found:
    if format_name not in FORMATS:
        raise UserError(f"unknown format {format_name!r}; expected one of {', '.join(FORMATS)}")
    if not root.exists():
        raise UserError(f"no such file or folder (the {format_name} root)", path=root)
    if format_name != "sunrgbd" and (options.sensors is not None or options.protocol != "none"):
        raise UserError("--sensors and --protocol apply to --format sunrgbd only")
    module = importlib.import_module(f"xmt.data.adapters.{format_name}")
    return module.find(root, options, problems)


def require_modality(options: AdapterOptions, fixed: str, format_name: str) -> None:
    """Formats whose target modality is fixed accept only that one."""
    if options.modality not in (None, fixed):
        raise UserError(f"--format {format_name} holds {fixed} images, not {options.modality}")
