"""What each stage writes, and how to recognise an earlier output of that kind by its content.

`--force` replaces an existing path only when its `OutputKind` owns it: an xmt checkpoint of the right
kind, an xmt pack of the right kind, a JSONL log, metrics JSON, a predictions CSV, a PNG marked
"Software: xmt", or a folder holding nothing but a stage's own entries. Anything else is the user's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from xmt.engine.formats import sniff


@dataclass(frozen=True)
class OutputKind:
    """What a stage writes at one path, and how to recognise an earlier one that --force may replace."""

    name: str  # for messages: "source-model checkpoint", "bridge folder"...
    owns: Callable[[Path], bool]  # True when the existing path is xmt's own output of this kind
    folder: bool = False


def _safetensors_metadata(path: Path) -> dict | None:
    """xmt's metadata from a safetensors header, or None when the file is not an xmt checkpoint."""
    try:
        with open(path, "rb") as f:
            length = int.from_bytes(f.read(8), "little")
            if not 0 < length < 100 << 20:
                return None
            header = json.loads(f.read(length))
        return json.loads(header["__metadata__"]["xmt"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _pack_kind(path: Path) -> str | None:
    """The `kind` attribute of an xmt HDF5 pack, or None when the file is not one."""
    if sniff(path) != "hdf5":
        return None
    try:
        import h5py

        with h5py.File(path, "r") as f:
            return str(f.attrs["kind"]) if "xmt_schema" in f.attrs else None
    except (OSError, KeyError, ValueError):
        return None


def checkpoint_of(kind: str) -> OutputKind:
    return OutputKind(f"{kind} checkpoint", lambda p: p.is_file() and
                      (_safetensors_metadata(p) or {}).get("kind") == kind)


def pack_of(kind: str) -> OutputKind:
    label = "translated pack" if kind == "translated" else "xmt pack"
    return OutputKind(label, lambda p: p.is_file() and _pack_kind(p) == kind)


def _is_jsonl_log(path: Path) -> bool:
    """xmt's logs are JSON objects a line (one per epoch; an empty log is empty)."""
    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return path.is_file() and all(isinstance(json.loads(line), dict) for line in lines)
    except (OSError, UnicodeDecodeError, ValueError):
        return False


def _json_has(keys: set[str]) -> Callable[[Path], bool]:
    def owns(path: Path) -> bool:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            return False
        return isinstance(data, dict) and bool(keys & set(data))
    return owns


def _starts_with(first_line: str) -> Callable[[Path], bool]:
    def owns(path: Path) -> bool:
        try:
            with open(path, encoding="utf-8") as f:
                return f.readline().rstrip("\r\n") == first_line
        except (OSError, UnicodeDecodeError):
            return False
    return owns


PNG_SOFTWARE = "xmt"  # the tEXt "Software" chunk xmt writes into its PNGs, so --force knows them


def xmt_png_info():
    """PIL's PngInfo with the chunk that marks a PNG as xmt's own (so --force may replace it, and only it)."""
    from PIL import PngImagePlugin

    from xmt import __version__

    info = PngImagePlugin.PngInfo()
    info.add_text("Software", f"{PNG_SOFTWARE} {__version__}")
    return info


def _is_xmt_png(path: Path) -> bool:
    try:
        from PIL import Image

        with Image.open(path) as image:
            return image.format == "PNG" and str(image.info.get("Software", "")).startswith(PNG_SOFTWARE)
    except (OSError, ValueError):
        return False


def _folder_of(entries: dict[str, OutputKind | None], required: str | None = None,
               extra: Callable[[Path], bool] | None = None) -> Callable[[Path], bool]:
    """A folder that holds nothing but the named entries (each one xmt's own), as a stage writes it.

    `entries` maps a top-level name to its kind (None: a subfolder `extra` vets file by file)."""
    def owns(path: Path) -> bool:
        if not path.is_dir() or path.is_symlink():
            return False
        names = {p.name for p in path.iterdir()}
        if not names:
            return True  # an empty folder holds nothing to lose
        if required is not None and required not in names:
            return False
        for name in names:
            kind, child = entries.get(name, False), path / name
            if kind is False:
                return False
            if kind is None:
                if not (child.is_dir() and not child.is_symlink() and extra is not None and
                        all(extra(f) for f in child.rglob("*"))):
                    return False
            elif not kind.owns(child):
                return False
        return True
    return owns


JSONL_LOG = OutputKind("xmt log (.jsonl)", _is_jsonl_log)
METRICS_JSON = OutputKind("metrics JSON from xmt evaluate", _json_has({"accuracy", "results"}))
PREDICTIONS_CSV = OutputKind("predictions CSV from xmt predict", _starts_with("path,label,confidence"))
PREVIEW_PNG = OutputKind("preview PNG written by xmt", _is_xmt_png)
BRIDGE_FOLDER = OutputKind("bridge folder", _folder_of({
    "translator.safetensors": checkpoint_of("translator"), "translated.h5": pack_of("translated"),
    "preview.png": PREVIEW_PNG, "bridge.jsonl": JSONL_LOG}), folder=True)
SYNTH_MANIFEST = OutputKind("xmt synth manifest", _json_has({"renderer_version"}))
SYNTH_FOLDER = OutputKind("benchmark folder from xmt synth", _folder_of(
    {"manifest.json": SYNTH_MANIFEST, "source": None, "ti": None, "target": None}, required="manifest.json",
    extra=lambda f: f.is_dir() and not f.is_symlink() or f.is_file() and f.suffix == ".png"), folder=True)
TR_LISTS_MANIFEST = OutputKind("TR lists manifest", _json_has({"tr_lists"}))


def _tr_lists_file(path: Path) -> bool:
    return (path.is_dir() and not path.is_symlink()) or path.is_file() and path.suffix in (".txt", ".png")


def _is_tr_lists_folder(path: Path) -> bool:
    if not path.is_dir() or path.is_symlink():
        return False
    entries = list(path.iterdir())
    if not entries:
        return True
    return TR_LISTS_MANIFEST.owns(path / "manifest.json") and all(
        _tr_lists_file(p) for p in path.rglob("*") if p != path / "manifest.json")


TR_LISTS_FOLDER = OutputKind("TR lists folder from xmt prepare-ti", _is_tr_lists_folder, folder=True)
