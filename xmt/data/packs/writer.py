"""Writing packs: image sets decoded row by row (sets/rows.py) and appended in order, with each modality's
statistics and the index (labels, paths, skipped problems, provenance) written last.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from xmt import __version__
from xmt.data.packs.reader import HEADER_KEY, PACK_SCHEMA, header_sha256
from xmt.data.sets.image_set import ImageSet
from xmt.data.sets.rows import RowBlock, RowReader
from xmt.data.validation import Problem, Problems
from xmt.engine.console import progress_bar
from xmt.engine.hashing import sha256_lines
from xmt.errors import UserError

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
        self.f.attrs[HEADER_KEY] = header_sha256(self.f)  # last: it covers everything above


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
