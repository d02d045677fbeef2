"""Translated packs: bridge's output, every TR target image translated to source-like RGB.

A pack of kind "translated" (schema: docs/formats.md) holding, in the order of the TR images:
`images/rgb` (N, 3, H, W) uint8 translations, `probs` (N, K) and `features` (N, D) float32 of the
source model on them, `index` (N,), `labels` (carried from the TR data for scoring only, -1 when
absent), `paths/rgb` (the TR images' source paths). Provenance names the source model, the
translator and the TR data (sha256 of its ordered paths), so transfer can check that a translated
pack belongs to the model and images it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from xmt.data.packs.reader import read_pack_header, read_rows, row_ranges
from xmt.data.packs.writer import CHECKSUM, PackWriter
from xmt.errors import UserError


def write_translated_pack(
    path: str | Path,
    rgb: np.ndarray,
    probs: np.ndarray,
    features: np.ndarray,
    labels: np.ndarray,
    paths: list[str],
    classes: list[str],
    provenance: dict,
) -> Path:
    with h5py.File(path, "w") as f:
        writer = PackWriter(f, {"rgb": np.dtype(np.uint8)}, size=rgb.shape[-1])
        writer.append({"rgb": rgb})
        f.create_dataset("probs", data=probs.astype(np.float32), **CHECKSUM)
        f.create_dataset("features", data=features.astype(np.float32), **CHECKSUM)
        f.create_dataset("index", data=np.arange(len(rgb), dtype=np.int64), **CHECKSUM)
        writer.finish(labels=labels, paths={"rgb": list(paths)}, classes=list(classes), kind="translated",
                      provenance=provenance)
    return Path(path)


@dataclass
class TranslatedPack:
    path: Path
    probs: np.ndarray
    features: np.ndarray
    paths: list[str]
    classes: list[str]
    provenance: dict
    labels: np.ndarray  # for scoring only; -1 where the TR images had none


def read_translated_pack(path: str | Path) -> TranslatedPack:
    header = read_pack_header(path)
    if header["kind"] != "translated":
        raise UserError(f"is a pack of kind {header['kind']!r}, not the translated pack that bridge writes", path=path)
    with h5py.File(path, "r") as f:
        paths = [p.decode() if isinstance(p, bytes) else str(p) for p in read_rows(f["paths/rgb"], path)]
        pack = TranslatedPack(Path(path), read_rows(f["probs"], path), read_rows(f["features"], path), paths,
                              header["classes"], header["provenance"], read_rows(f["labels"], path))
    _check_values(pack.probs, pack.features, path)
    return pack


def _check_values(probs: np.ndarray, features: np.ndarray, path: str | Path) -> None:
    """The teacher's probabilities must be finite, in [0, 1] and sum to 1 per row; features finite."""
    if probs.ndim != 2 or features.ndim != 2 or len(features) != len(probs):
        raise UserError(f"probs {probs.shape} and features {features.shape} are not one row per image "
                        "(corrupt file?)", path=path)
    for name, values in (("probs", probs), ("features", features)):
        bad = np.flatnonzero(~np.isfinite(values.reshape(len(values), -1)).all(axis=1))
        if len(bad):
            raise UserError(f"{row_ranges(bad.tolist())} of {name} hold inf/nan: not usable translations", path=path)
    bad = np.flatnonzero((probs < 0).any(axis=1) | (probs > 1).any(axis=1) | (np.abs(probs.sum(axis=1) - 1) > 1e-3))
    if len(bad):
        raise UserError(f"{row_ranges(bad.tolist())} of probs are not probabilities (each row must lie in [0, 1] "
                        "and sum to 1)", path=path)
