"""Reading packs: the header checked, rows read with their checksums verified, a pack as an image set
(stages) or as a torch Dataset (DataLoader). The layout is in packs/__init__.py and docs/formats.md.
"""

from __future__ import annotations

import hashlib
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
from xmt.engine.checkpoint import canonical_json
from xmt.engine.console import warn
from xmt.engine.hashing import sha256_file
from xmt.errors import UserError

# schema 2: the root attribute header_sha256 covers everything but the numeric datasets' values (which carry
# per-chunk checksums), checked on every read. Schema 1 packs still read, with a warning that it is missing.
PACK_SCHEMA = 2
HEADER_KEY = "header_sha256"
UNVERIFIED_HEADER = ("pack schema 1: its attributes (classes, modalities, size, provenance), paths and layout carry "
                     "no checksum, so they are not verified")
_warned: set[str] = set()


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


def header_sha256(f: h5py.File) -> str:
    """sha256 of everything in a pack a reader acts on but the numeric datasets' values (those carry
    per-chunk checksums): the root attributes but this hash, each dataset's name, shape, dtype, checksum
    filter and attributes, and the values of the string datasets (paths, skipped)."""
    datasets: dict[str, dict] = {}

    def add(name: str, obj) -> None:
        if not isinstance(obj, h5py.Dataset):
            return
        string = h5py.check_string_dtype(obj.dtype) is not None
        entry = {"shape": list(obj.shape), "dtype": "string" if string else obj.dtype.str,
                 "fletcher32": bool(obj.fletcher32), "attrs": {k: _plain(v) for k, v in obj.attrs.items()}}
        if string:
            digest = hashlib.sha256()
            for value in obj[()] if obj.shape else [obj[()]]:
                digest.update((value if isinstance(value, bytes) else str(value).encode()) + b"\0")
            entry["values"] = digest.hexdigest()
        datasets[name] = entry

    f.visititems(add)
    root = {k: _plain(v) for k, v in f.attrs.items() if k != HEADER_KEY}
    return hashlib.sha256(canonical_json({"attrs": root, "datasets": datasets})).hexdigest()


def _plain(value):
    """An HDF5 attribute value as JSON holds it."""
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _check_header(f: h5py.File, schema: int, path: Path) -> None:
    """Schema 2: the header checksum must match; schema 1: a warning (once per file) that it has none."""
    if schema < PACK_SCHEMA:
        if str(path) not in _warned:
            _warned.add(str(path))
            warn(f"{path}: {UNVERIFIED_HEADER}")
        return
    stored = f.attrs.get(HEADER_KEY)
    if stored is None:
        raise UserError(f"pack schema {schema} without its {HEADER_KEY}: the file was altered", path=path)
    if header_sha256(f) != _plain(stored):
        raise UserError("header checksum mismatch: the file is corrupt (its attributes, paths or layout changed "
                        "after it was written)", path=path)


def _check_rows(f: h5py.File, header: dict, path: Path) -> None:
    """Every row-aligned dataset has one row per label, and every label names one of the classes (-1:
    unlabelled, allowed with classes only in a translated pack, whose TR images may have none)."""
    count = header["count"]
    for name in [f"images/{m}" for m in header["modalities"]] + [f"paths/{m}" for m in header["modalities"]]:
        if name not in f:
            raise UserError(f"has no {name} dataset (truncated or corrupt?)", path=path)
        if f[name].shape[:1] != (count,):
            raise UserError(f"holds {count} labels for {f[name].shape[0] if f[name].shape else 0} rows of {name} "
                            "(truncated or corrupt?)", path=path)
    labels = read_rows(f["labels"], path)
    classes = header["classes"]
    low = -1 if classes is None or header["kind"] == "translated" else 0
    high = 0 if classes is None else len(classes)
    bad = np.flatnonzero((labels < low) | (labels >= high)) if classes is not None else np.flatnonzero(labels != -1)
    if len(bad):
        what = "the pack is unlabelled (classes null)" if classes is None else \
            f"not one of its {len(classes)} classes (0..{len(classes) - 1})"
        raise UserError(f"label {int(labels[bad[0]])} of row {int(bad[0])}: {what}; {len(bad)} such labels "
                        "(corrupt file?)", path=path)


def read_pack_header(path: str | Path) -> dict:
    """The pack's attributes, checked against the header checksum, with every row-aligned dataset's length
    and every label checked; any h5 file that is not an xmt pack is a user error."""
    path = Path(path)
    if path.is_dir():
        raise UserError("is a folder, not a pack file", path=path)
    if not path.is_file():
        raise UserError("no such pack file", path=path)
    try:
        with h5py.File(path, "r") as f:
            attrs = dict(f.attrs)
            if "xmt_schema" not in attrs:
                raise UserError("an HDF5 file without xmt pack attributes: not an xmt pack", path=path)
            schema = int(attrs["xmt_schema"])
            if schema > PACK_SCHEMA:
                raise UserError(f"pack schema {schema} is newer than this xmt reads ({PACK_SCHEMA})", path=path)
            if schema < 1:
                raise UserError(f"pack schema {schema} is not a valid schema: not an xmt pack", path=path)
            _check_header(f, schema, path)
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
            _check_rows(f, header, path)
            return header
    except UserError:
        raise
    except (OSError, KeyError, ValueError, TypeError, json.JSONDecodeError) as exc:
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
