"""HDF5 packs: one file per data set, images stored at their encoded size in native units.

Layout (schema 1; documented in docs/formats.md):

    attrs   xmt_schema=1, kind ("images" | "translated"), modalities (JSON list), size,
            classes (JSON list or null), provenance (JSON), xmt_version
    images/<modality>   (N, C, H, W) uint8 or uint16, one sample per chunk, compressed;
                        attrs: units, bit_depth, stats (JSON: mean, std, valid_fraction)
    labels              (N,) int64, -1 = unlabelled
    paths/<modality>    (N,) UTF-8 source path of each sample

A paired pack (prepare-ti) holds two modalities whose row i is one pair. A translated pack
(bridge) adds probs (N, K) and features (N, D) of the source model on each translation.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from xmt import __version__
from xmt.data.encoding import EncodingRecipe
from xmt.data.readers import ImageSet
from xmt.engine.atomic import atomic_output
from xmt.engine.console import progress_bar
from xmt.engine.hashing import sha256_file
from xmt.errors import UserError

PACK_SCHEMA = 1
COMPRESSIONS = ("lzf", "gzip", "none")
UNITS = {"rgb": "8-bit sRGB", "depth": "millimetres (0 = invalid)", "nir": "digital number", "thermal": "digital number"}
_STRING = h5py.string_dtype("utf-8")


def read_pack_header(path: str | Path) -> dict:
    """The pack's attributes, checked; any h5 file that is not an xmt pack is a user error."""
    path = Path(path)
    if not path.is_file():
        raise UserError("no such pack file", path=path)
    try:
        with h5py.File(path, "r") as f:
            attrs = dict(f.attrs)
            if "xmt_schema" not in attrs:
                raise UserError("an HDF5 file without xmt pack attributes: not an xmt pack", path=path)
            if int(attrs["xmt_schema"]) > PACK_SCHEMA:
                raise UserError(f"pack schema {attrs['xmt_schema']} is newer than this xmt reads ({PACK_SCHEMA})", path=path)
            modalities = json.loads(attrs["modalities"])
            header = {
                "schema": int(attrs["xmt_schema"]),
                "kind": str(attrs["kind"]),
                "modalities": modalities,
                "size": int(attrs["size"]),
                "classes": json.loads(attrs["classes"]),
                "provenance": json.loads(attrs.get("provenance", "{}")),
                "count": int(f["labels"].shape[0]),
                "stats": {m: json.loads(f[f"images/{m}"].attrs.get("stats", "{}")) for m in modalities},
                "dtypes": {m: str(f[f"images/{m}"].dtype) for m in modalities},
            }
            for key in ("probs", "features"):
                if key in f:
                    header[f"{key}_shape"] = list(f[key].shape)
            return header
    except UserError:
        raise
    except (OSError, KeyError, ValueError, json.JSONDecodeError) as exc:
        raise UserError(f"not a readable xmt pack (truncated or corrupt?): {exc}", path=path)


@dataclass
class PackImageSet(ImageSet):
    """One modality of a pack, read lazily: each process opens the file on first use."""

    kind: str = field(default="pack")
    size: int = 64
    header: dict = field(default_factory=dict)

    @classmethod
    def open(cls, path: str | Path, modality: str) -> "PackImageSet":
        header = read_pack_header(path)
        if modality not in header["modalities"]:
            raise UserError(f"pack holds {', '.join(header['modalities'])} images, not {modality}", path=path)
        with h5py.File(path, "r") as f:
            paths = [p.decode() if isinstance(p, bytes) else str(p) for p in f[f"paths/{modality}"][:]]
            labels = f["labels"][:].astype(np.int64)
        return cls(Path(path), modality, paths, labels, header["classes"], None, "pack", header["size"], header)

    def provenance(self) -> dict:
        return {**super().provenance(), "sha256": sha256_file(self.source)}

    def __getstate__(self):  # h5py handles cannot be pickled into worker processes
        state = dict(self.__dict__)
        state.pop("_handle", None)
        return state

    def _images(self) -> h5py.Dataset:
        handle = self.__dict__.get("_handle")
        if handle is None or handle[0] != os.getpid():
            handle = (os.getpid(), h5py.File(self.source, "r"))
            self.__dict__["_handle"] = handle
        return handle[1][f"images/{self.modality}"]

    def read_raw(self, index: int) -> np.ndarray:
        return _to_hwc(self._images()[index])

    def read_block(self, start: int, stop: int, recipe: EncodingRecipe) -> np.ndarray:
        """Rows start..stop as (n, C, size, size) native arrays: one slice read, not n."""
        block = self._images()[start:stop]
        if block.shape[-1] != recipe.size or block.dtype != np.dtype(f"uint{recipe.bit_depth}"):
            return np.stack([np.asarray(_to_chw(self.read(i, recipe))) for i in range(start, stop)])
        return block


def _to_hwc(chw: np.ndarray) -> np.ndarray:
    return chw[0] if chw.shape[0] == 1 else np.ascontiguousarray(chw.transpose(1, 2, 0))


def _to_chw(array: np.ndarray) -> np.ndarray:
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


class RunningStats:
    """Mean, std and valid fraction of one modality in native units, accumulated in one pass."""

    def __init__(self, modality: str):
        self.modality = modality
        self.total = self.sum = self.sum_sq = self.valid = 0.0

    def add(self, array: np.ndarray) -> None:
        values = array.astype(np.float64)
        valid = values > 0 if self.modality == "depth" else np.ones(values.shape, bool)
        self.total += values.size
        self.valid += valid.sum()
        self.sum += values[valid].sum()
        self.sum_sq += np.square(values[valid]).sum()

    def result(self) -> dict:
        n = max(self.valid, 1.0)
        mean = self.sum / n
        return {"mean": mean, "std": float(np.sqrt(max(self.sum_sq / n - mean**2, 0.0))),
                "valid_fraction": self.valid / max(self.total, 1.0)}


def write_pack(
    out: str | Path,
    sets: dict[str, ImageSet],
    size: int,
    provenance: dict,
    force: bool = False,
    compression: str = "lzf",
    kind: str = "images",
) -> Path:
    """Write one or several row-aligned image sets (e.g. the two sides of TI pairs) to a pack."""
    if compression not in COMPRESSIONS:
        raise UserError(f"compression {compression!r}: expected one of {', '.join(COMPRESSIONS)}")
    first = next(iter(sets.values()))
    count = len(first)
    if any(len(s) != count for s in sets.values()):
        raise ValueError("image sets of a pack must have the same length")
    recipes = {m: EncodingRecipe.for_modality(m, size=size, bit_depth=8 * s.native_dtype().itemsize)
               for m, s in sets.items()}
    stats = {m: RunningStats(m) for m in sets}
    with atomic_output(out, force) as tmp, h5py.File(tmp, "w") as f:
        datasets = {}
        for modality, recipe in recipes.items():
            shape = (count, recipe.in_channels, size, size)
            datasets[modality] = f.create_dataset(
                f"images/{modality}", shape=shape, dtype=f"uint{recipe.bit_depth}", chunks=(1, *shape[1:]),
                compression=None if compression == "none" else compression,
            )
            f.create_dataset(f"paths/{modality}", data=np.array(sets[modality].paths, dtype=object), dtype=_STRING)
        f.create_dataset("labels", data=first.labels.astype(np.int64))
        with progress_bar(f"packing {out}", count) as bar:
            for i in range(count):
                for modality, image_set in sets.items():
                    array = image_set.read(i, recipes[modality])
                    datasets[modality][i] = _to_chw(array)
                    stats[modality].add(array)
                bar.advance()
        for modality, recipe in recipes.items():
            datasets[modality].attrs.update(units=UNITS[modality], bit_depth=recipe.bit_depth,
                                            stats=json.dumps(stats[modality].result()))
        f.attrs.update(
            xmt_schema=PACK_SCHEMA, kind=kind, modalities=json.dumps(list(sets)), size=size,
            classes=json.dumps(first.classes), provenance=json.dumps(provenance), xmt_version=__version__,
        )
    return Path(out)
