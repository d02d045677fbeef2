"""Translated packs: bridge's output, every TR target image translated to source-like RGB.

A pack of kind "translated" (schema: docs/formats.md) holding, in the order of the TR images:
`images/rgb` (N, 3, H, W) uint8 translations, `probs` (N, K) and `features` (N, D) float32 of the
source model on them, `index` (N,), `labels` (carried from the TR data for scoring only, -1 when
absent), `paths/rgb` (the TR images' source paths). Provenance names the source model, the
translator and the TR data (sha256 of its ordered paths), so transfer can check that a translated
pack belongs to the model and images it is given.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from xmt import __version__
from xmt.data.packs import PACK_SCHEMA, read_pack_header
from xmt.engine.atomic import atomic_output
from xmt.errors import UserError

_STRING = h5py.string_dtype("utf-8")


def write_translated_pack(
    path: str | Path,
    rgb: np.ndarray,
    probs: np.ndarray,
    features: np.ndarray,
    labels: np.ndarray,
    paths: list[str],
    classes: list[str],
    provenance: dict,
    force: bool = False,
) -> Path:
    count, _, size, _ = rgb.shape
    with atomic_output(path, force) as tmp, h5py.File(tmp, "w") as f:
        images = f.create_dataset("images/rgb", data=rgb, chunks=(1, *rgb.shape[1:]), compression="lzf")
        images.attrs.update(units="8-bit sRGB (translated)", bit_depth=8, stats=json.dumps({}))
        f.create_dataset("probs", data=probs.astype(np.float32))
        f.create_dataset("features", data=features.astype(np.float32))
        f.create_dataset("index", data=np.arange(count, dtype=np.int64))
        f.create_dataset("labels", data=labels.astype(np.int64))
        f.create_dataset("paths/rgb", data=np.array(paths, dtype=object), dtype=_STRING)
        f.attrs.update(xmt_schema=PACK_SCHEMA, kind="translated", modalities=json.dumps(["rgb"]), size=size,
                       classes=json.dumps(classes), provenance=json.dumps(provenance), xmt_version=__version__)
    return Path(path)


@dataclass
class TranslatedPack:
    path: Path
    probs: np.ndarray
    features: np.ndarray
    paths: list[str]
    classes: list[str]
    provenance: dict


def read_translated_pack(path: str | Path) -> TranslatedPack:
    header = read_pack_header(path)
    if header["kind"] != "translated":
        raise UserError(f"is a pack of kind {header['kind']!r}, not the translated pack that bridge writes", path=path)
    with h5py.File(path, "r") as f:
        paths = [p.decode() if isinstance(p, bytes) else str(p) for p in f["paths/rgb"][:]]
        return TranslatedPack(Path(path), f["probs"][:], f["features"][:], paths, header["classes"],
                              header["provenance"])
