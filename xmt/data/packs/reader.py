"""Reading packs: the header checked, rows read with their checksums verified, a pack as an image set
(stages) or as a torch Dataset (DataLoader). The layout is in packs/__init__.py and docs/formats.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import torch

from xmt.data.encoding import EncodingRecipe, to_hwc
from xmt.data.h5files import ProcessLocalH5
from xmt.data.sets.image_set import ImageSet
from xmt.data.validation import Problem
from xmt.engine.hashing import sha256_file
from xmt.errors import UserError

PACK_SCHEMA = 1


class CorruptData(UserError):
    """Rows of a pack that cannot be read: a chunk fails its checksum, or does not decode.

    The pack is named in the message itself (`file` holds it), not as the error's `path`: where a
    row's problem is reported against the row's source image (xmt pack of a pack), the pack stays
    named. A torch DataLoader worker re-raises an exception as `type(message)` with the worker's
    whole traceback as the message; from that, this keeps the one line naming the file and the rows.
    """

    def __init__(self, message: str, path: str | Path | None = None):
        if path is None and "\n" in message:
            message = message.rstrip().splitlines()[-1].split(": ", 1)[-1]
        super().__init__(f"{path}: {message}" if path is not None else message)
        self.file = None if path is None else str(path)


def read_rows(dataset: h5py.Dataset, path: str | Path, rows: int | slice = slice(None)) -> np.ndarray:
    """`dataset[rows]`; a chunk that fails its checksum or does not decode is a CorruptData error
    naming the file, the dataset and the rows it holds."""
    try:
        return dataset[rows]
    except OSError as exc:
        raise _corrupt(dataset, path, rows, exc) from None


def _corrupt(dataset: h5py.Dataset, path: str | Path, rows: int | slice, exc: OSError) -> CorruptData:
    indices = range(*rows.indices(dataset.shape[0])) if isinstance(rows, slice) else [int(rows)]
    bad = []
    for i in indices:  # only on failure: find which rows (chunks) are bad
        try:
            dataset[i]
        except OSError:
            bad.append(i)
    bad = bad or list(indices)
    where = f"{row_ranges(bad)} of {dataset.name.lstrip('/')}"
    if dataset.fletcher32:
        return CorruptData(f"{where} {'fails its checksum' if len(bad) == 1 else 'fail their checksums'} "
                           "(corrupt file)", path=path)
    return CorruptData(f"{where} cannot be decoded (corrupt file? {exc})", path=path)


def row_ranges(rows: list[int], shown: int = 5) -> str:
    """'row 17', 'rows 3, 17-19', 'rows 3, 17-19, ... (12 rows)'."""
    runs: list[list[int]] = []
    for i in rows:
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs[:shown])
    if len(runs) > shown:
        text += f", ... ({len(rows)} rows)"
    return f"row {text}" if len(rows) == 1 else f"rows {text}"


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
                "skipped": int(f["skipped/paths"].shape[0]) if "skipped/paths" in f else 0,
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


def read_skipped(path: str | Path) -> list[Problem]:
    """The input problems that --skip-bad left out of a pack."""
    with h5py.File(path, "r") as f:
        if "skipped/paths" not in f:
            return []
        return [Problem(p.decode(), w.decode()) for p, w in zip(f["skipped/paths"][:], f["skipped/problems"][:])]


@dataclass
class PackImageSet(ProcessLocalH5, ImageSet):
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
            paths = [p.decode() if isinstance(p, bytes) else str(p) for p in read_rows(f[f"paths/{modality}"], path)]
            labels = read_rows(f["labels"], path).astype(np.int64)
        return cls(Path(path), modality, paths, labels, header["classes"], None, "pack", header["size"], header)

    def provenance(self) -> dict:
        return {**super().provenance(), "sha256": sha256_file(self.source)}

    @property
    def files_read_plainly(self) -> bool:
        return False  # its samples are rows of the pack, not files

    def _images(self) -> h5py.Dataset:
        return self._h5_dataset(self.source, f"images/{self.modality}")

    def read_stored(self, index: int) -> np.ndarray:
        return to_hwc(read_rows(self._images(), self.source, index))

    def read_native_block(self, start: int, stop: int, recipe: EncodingRecipe) -> np.ndarray:
        """Rows start..stop as (n, C, size, size) native arrays: one slice read, not n."""
        block = read_rows(self._images(), self.source, slice(start, stop))
        if block.shape[-1] != recipe.size or block.dtype != np.dtype(f"uint{recipe.bit_depth}"):
            return super().read_native_block(start, stop, recipe)
        return block


class PackDataset(ProcessLocalH5, torch.utils.data.Dataset):
    """Random access to a pack for a torch DataLoader: item i is (image per modality..., label).

    Images come as (C, H, W) tensors in native units (uint8, or uint16 read as int32 since torch
    collates few uint16 ops); labels are held in memory, images read from the file on demand.
    """

    def __init__(self, path: str | Path, modalities: list[str] | None = None):
        header = read_pack_header(path)
        self.path, self.modalities = Path(path), modalities or header["modalities"]
        missing = [m for m in self.modalities if m not in header["modalities"]]
        if missing:
            raise UserError(f"pack holds {', '.join(header['modalities'])} images, not {', '.join(missing)}", path=path)
        with h5py.File(path, "r") as f:
            self.labels = torch.from_numpy(read_rows(f["labels"], path).astype(np.int64))

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        images = [read_rows(self._h5_dataset(self.path, f"images/{m}"), self.path, index) for m in self.modalities]
        return (*(torch.from_numpy(a.astype(np.int32) if a.dtype == np.uint16 else a) for a in images),
                self.labels[index])
