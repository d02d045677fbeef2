"""HDF5 packs: one file per data set, images stored at their encoded size in native units.

Layout (schema 1; documented in docs/formats.md):

    attrs   xmt_schema=1, kind ("images" | "translated"), modalities (JSON list), size,
            classes (JSON list or null), provenance (JSON), xmt_version
    images/<modality>   (N, C, H, W) uint8 or uint16, one sample per chunk, compressed;
                        attrs: units, bit_depth, stats (JSON: mean, std, valid_fraction)
    labels              (N,) int64, -1 = unlabelled
    paths/<modality>    (N,) UTF-8 source path of each sample
    skipped/paths, skipped/problems   (M,) UTF-8: the input problems dropped by --skip-bad

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
import torch

from xmt import __version__
from xmt.data.encoding import EncodingRecipe, to_chw, to_hwc
from xmt.data.h5files import ProcessLocalH5
from xmt.data.pack_rows import RowBlock, RowReader
from xmt.data.readers import ImageSet
from xmt.data.validation import Problem, Problems
from xmt.engine.console import progress_bar
from xmt.engine.hashing import sha256_file, sha256_lines
from xmt.errors import UserError

PACK_SCHEMA = 1
# HDF5 filters per --compression: lzf is fast; gzip a little smaller; szip predicts each pixel from its
# neighbour (as PNG does), so it is the smallest on images but the slowest to read.
COMPRESSIONS = {
    "lzf": {"compression": "lzf", "shuffle": True},  # shuffle: the high bytes of uint16 depth compress well
    "gzip": {"compression": "gzip", "compression_opts": 1, "shuffle": True},
    "szip": {"compression": "szip", "compression_opts": ("nn", 32)},
    "none": {},
}
UNITS = {"rgb": "8-bit sRGB", "depth": "millimetres (0 = invalid)", "nir": "digital number", "thermal": "digital number"}
_STRING = h5py.string_dtype("utf-8")
# Every numeric dataset is written with HDF5's per-chunk Fletcher-32 checksum (after any compression
# filter, so with each of COMPRESSIONS): a chunk whose bytes changed fails to read instead of giving
# wrong pixels. Packs written before carry none and still read (unchecked); no schema change is needed.
CHECKSUM = {"fletcher32": True}


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

    def read_block(self, start: int, stop: int, recipe: EncodingRecipe) -> np.ndarray:
        """Rows start..stop as (n, C, size, size) native arrays: one slice read, not n."""
        block = read_rows(self._images(), self.source, slice(start, stop))
        if block.shape[-1] != recipe.size or block.dtype != np.dtype(f"uint{recipe.bit_depth}"):
            return np.stack([to_chw(self.read(i, recipe)) for i in range(start, stop)])
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


class RunningStats:
    """Mean, std and valid fraction of one modality in native units, accumulated in one pass.

    Sums are exact integers (images are uint8/uint16), so the result does not depend on how the
    images were grouped into blocks; invalid depth pixels are 0 and add nothing to them.
    """

    def __init__(self, modality: str):
        self.modality = modality
        self.total = self.valid = self.sum = self.sum_sq = 0

    def add(self, array: np.ndarray) -> None:
        """One image or a block of them."""
        values = array.astype(np.int64).ravel()
        self.total += values.size
        self.valid += int(np.count_nonzero(values)) if self.modality == "depth" else values.size
        self.sum += int(values.sum())
        self.sum_sq += int(np.dot(values, values))

    def result(self) -> dict:
        n = max(self.valid, 1)
        variance = max(n * self.sum_sq - self.sum**2, 0) / n**2
        return {"mean": self.sum / n, "std": float(np.sqrt(variance)), "valid_fraction": self.valid / max(self.total, 1)}


class PackWriter:
    """Writes the pack schema into an open HDF5 file: rows appended in order, then the index."""

    def __init__(self, f: h5py.File, dtypes: dict[str, np.dtype], size: int, compression: str = "lzf"):
        if compression not in COMPRESSIONS:
            raise UserError(f"compression {compression!r}: expected one of {', '.join(COMPRESSIONS)}")
        if compression == "szip" and not h5py.h5z.filter_avail(h5py.h5z.FILTER_SZIP):
            raise UserError("this h5py build has no szip filter; choose another --compression")
        self.f, self.size, self.count = f, size, 0
        self.stats = {m: RunningStats(m) for m in dtypes}
        self.images = {}
        for modality, dtype in dtypes.items():
            shape = (1 if modality != "rgb" else 3, size, size)
            self.images[modality] = f.create_dataset(
                f"images/{modality}", shape=(0, *shape), maxshape=(None, *shape), dtype=dtype, chunks=(1, *shape),
                **COMPRESSIONS[compression], **CHECKSUM,
            )

    def append(self, block: dict[str, np.ndarray]) -> None:
        """(n, C, size, size) arrays, one per modality, row-aligned."""
        n = len(next(iter(block.values())))
        for modality, images in block.items():
            dataset = self.images[modality]
            dataset.resize(self.count + n, axis=0)
            dataset[self.count:] = images
            self.stats[modality].add(images)
        self.count += n

    def finish(self, *, labels: np.ndarray, paths: dict[str, list[str]], classes: list[str] | None, kind: str,
               provenance: dict, skipped: list[Problem] = ()) -> None:
        if len(labels) != self.count or any(len(p) != self.count for p in paths.values()):
            raise ValueError("labels and paths must have one entry per row written")
        self.f.create_dataset("labels", data=np.asarray(labels, np.int64), **CHECKSUM)
        for modality, dataset in self.images.items():
            self.f.create_dataset(f"paths/{modality}", data=_strings(paths[modality]), dtype=_STRING)
            dataset.attrs.update(units=UNITS[modality], bit_depth=8 * dataset.dtype.itemsize,
                                 stats=json.dumps(self.stats[modality].result()))
        self.f.create_dataset("skipped/paths", data=_strings([p.path for p in skipped]), dtype=_STRING)
        self.f.create_dataset("skipped/problems", data=_strings([p.what for p in skipped]), dtype=_STRING)
        self.f.attrs.update(
            xmt_schema=PACK_SCHEMA, kind=kind, modalities=json.dumps(list(self.images)), size=self.size,
            classes=json.dumps(classes), provenance=json.dumps(provenance), xmt_version=__version__,
        )


def _strings(values: list[str]) -> np.ndarray:
    return np.array(list(values), dtype=object)


@dataclass
class PackResult:
    path: Path
    count: int  # rows written
    problems: list[Problem]  # the problems met, all left out (a run that returns had none, or --skip-bad)


def write_pack(
    out: str | Path,
    sets: dict[str, ImageSet],
    size: int,
    provenance: dict,
    *,
    root: str | Path | None = None,
    compression: str = "lzf",
    kind: str = "images",
    workers: int = 0,
    problems: Problems | None = None,
    skip_bad: bool = False,
) -> PackResult:
    """Pack one or several row-aligned image sets (e.g. the two sides of TI pairs) into `out`.

    Rows are decoded, checked and resized in `workers` processes and written in order, so the file
    is the same whatever the worker count. Problems found on the way join `problems` (which may hold
    problems the caller found before); unless `skip_bad`, any problem fails the run and no file is
    left behind; with it, bad rows are left out and the problems recorded in the pack. `root` (default:
    the folder the sets' sources share) is the input root of the provenance and of error messages.
    """
    first = next(iter(sets.values()))
    if any(len(s) != len(first) for s in sets.values()):
        raise ValueError("image sets of a pack must have the same length")
    if root is None:
        root = Path(os.path.commonpath([Path(s.source).absolute() for s in sets.values()]))
    problems = problems if problems is not None else Problems()
    provenance = {**provenance, "root": str(root), "inputs_count": len(first),
                  "inputs_sha256": input_list_sha256([p for s in sets.values() for p in s.paths], root)}
    reader = RowReader(sets, size)
    kept: list[int] = []
    with h5py.File(out, "w") as f:  # a claimed temporary (xmt.engine.outputs), so a failure leaves nothing
        writer = PackWriter(f, reader.dtypes, size, compression)
        with progress_bar("packing", len(reader)) as bar:
            for block in reader.blocks(workers):
                _take(block, writer, kept, problems)
                bar.advance(block.stop - block.start)
        problems.raise_unless(skip_bad, root)
        if not kept:
            raise UserError("no usable samples to pack", path=root)
        writer.finish(labels=first.labels[kept], paths={m: [s.paths[i] for i in kept] for m, s in sets.items()},
                      classes=first.classes, kind=kind, provenance=provenance, skipped=problems.items)
    return PackResult(Path(out), len(kept), list(problems.items))


def _take(block: RowBlock, writer: PackWriter, kept: list[int], problems: Problems) -> None:
    for problem in block.problems:
        problems.add(problem.path, problem.what)
    if block.rows:
        writer.append(block.images)
        kept.extend(block.rows)


def input_list_sha256(paths: list[str], root: str | Path) -> str:
    """sha256 of the sorted input paths, relative to `root` so that moving the data keeps it."""
    prefix = str(root)  # textual, so that samples inside a file ("x.mat#images/3") are covered too
    return sha256_lines(sorted(p[len(prefix):].lstrip("/#") if p.startswith(prefix) else p for p in paths))
