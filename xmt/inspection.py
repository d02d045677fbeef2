"""What an xmt artifact holds: kind, schema, shapes, classes, modality, provenance."""

from __future__ import annotations

from pathlib import Path

import h5py
from safetensors import safe_open

from xmt.data.packs import read_pack_header
from xmt.data.readers import PACK_SUFFIXES
from xmt.engine.checkpoint import read_metadata
from xmt.errors import UserError


def describe(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise UserError("no such file", path=path)
    if path.suffix.lower() in PACK_SUFFIXES:
        header = read_pack_header(path)
        with h5py.File(path, "r") as f:
            shapes = {}
            f.visititems(lambda name, obj: shapes.__setitem__(name, [list(obj.shape), str(obj.dtype)])
                         if isinstance(obj, h5py.Dataset) else None)
        return {"file": str(path), "format": "xmt pack (HDF5)", **header, "datasets": shapes}
    meta = read_metadata(path)
    with safe_open(str(path), framework="pt") as f:
        shapes = {name: list(f.get_slice(name).get_shape()) for name in f.keys()}
    return {"file": str(path), "format": "xmt checkpoint (safetensors)", **meta,
            "tensors": len(shapes), "parameters": sum(_numel(s) for s in shapes.values()), "shapes": shapes}


def _numel(shape: list[int]) -> int:
    count = 1
    for n in shape:
        count *= n
    return count


def summary_lines(info: dict) -> list[str]:
    """A short human-readable account of `describe`'s result."""
    lines = [f"{info['file']}: {info['format']}, kind {info.get('kind')}, schema {info.get('schema')}"]
    if "count" in info:
        lines.append(f"samples: {info['count']} at {info['size']}x{info['size']}, modalities: "
                     + ", ".join(f"{m} ({info['dtypes'][m]})" for m in info["modalities"]))
    if info.get("modality"):
        lines.append(f"modality: {info['modality']}, input size {info.get('input_size')}")
    if info.get("arch"):
        lines.append(f"architecture: {info['arch']}, {info['parameters']:,} parameters in {info['tensors']} tensors")
    if info.get("classes"):
        lines.append(f"classes ({len(info['classes'])}): {', '.join(info['classes'])}")
    if info.get("skipped"):
        lines.append(f"skipped inputs: {info['skipped']} (--skip-bad; listed in skipped/)")
    for key in ("method", "oracle", "best_epoch", "val_accuracy"):
        if key in info:
            lines.append(f"{key}: {info[key]}")
    for name, source in (info.get("provenance", {}).get("inputs", {}) or {}).items():
        lines.append(f"input {name}: {source}")
    if "datasets" in info:
        lines += [f"  {name}: {shape} {dtype}" for name, (shape, dtype) in info["datasets"].items()]
    return lines
