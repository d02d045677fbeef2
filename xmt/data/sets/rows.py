"""Decoding, checking and resizing the rows of row-aligned image sets, in worker processes.

A row is one sample of every set (for TI data: an RGB image and its target partner). Each row
is read as stored, checked (readable, the expected bit depth, partners of the same size),
converted to native units and resized by the recipe; rows with a problem are reported, not
returned. Blocks of rows are handed out in order and come back in order, so what is written
does not depend on the number of workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from xmt.data.encoding import EncodingRecipe, to_chw
from xmt.data.parallel import ordered_map
from xmt.data.sets.image_set import ImageSet
from xmt.data.validation import Problem, Problems
from xmt.errors import UserError

BLOCK = 32  # rows per task: large enough to amortise inter-process transfer, small for a smooth bar


@dataclass
class RowBlock:
    start: int
    stop: int
    rows: list[int]  # indices of the good rows, in order
    images: dict[str, np.ndarray]  # modality -> (len(rows), C, size, size)
    problems: list[Problem]


class RowReader:
    """Reads rows of `sets` at `size` (None: as stored); each set's expected bit depth is fixed up front."""

    def __init__(self, sets: dict[str, ImageSet], size: int | None):
        self.sets = sets
        self.bits = {m: _expected_bits(s) for m, s in sets.items()}
        self.recipes = None if size is None else {
            m: EncodingRecipe.for_modality(m, size=size, bit_depth=self._native_bits(m)) for m in sets}
        self.dtypes = {m: np.dtype(f"uint{self._native_bits(m)}") for m in sets}

    def _native_bits(self, modality: str) -> int:
        return 16 if modality == "depth" else self.bits[modality][0]  # depth is stored as millimetres

    def __len__(self) -> int:
        return len(next(iter(self.sets.values())))

    def blocks(self, workers: int = 0) -> Iterator[RowBlock]:
        """Every row, in blocks, in order; `workers` > 0 reads them in that many processes."""
        spans = [(start, min(start + BLOCK, len(self))) for start in range(0, len(self), BLOCK)]
        yield from ordered_map(_read_row_block, spans, workers, shared=self)

    def read_row_block(self, start: int, stop: int) -> RowBlock:
        """Rows start..stop: the good ones decoded and stacked, the others' problems."""
        rows, images, problems = [], {m: [] for m in self.sets}, Problems()
        for index in range(start, stop):
            row = self._read_row(index, problems)
            if row is not None:
                rows.append(index)
                for modality, image in row.items():
                    images[modality].append(to_chw(image))
        stacked = {m: np.stack(v) if v else np.zeros((0,), self.dtypes[m]) for m, v in images.items()}
        return RowBlock(start, stop, rows, stacked, problems.items)

    def _read_row(self, index: int, problems: Problems) -> dict[str, np.ndarray] | None:
        """Row `index` in native units (resized by the recipes, if any), or None after reporting its problems."""
        native, found = {}, len(problems)
        for modality, image_set in self.sets.items():
            path = image_set.paths[index]
            try:
                stored = image_set.read_stored(index)
                self._check_bits(modality, stored, path)
                native[modality] = image_set.to_native(stored, index)
                if modality == "depth" and not native[modality].any():
                    raise UserError("depth is entirely invalid (every pixel is 0)", path=path)
            except UserError as error:
                problems.add_error(error, path)
        if len(problems) > found:
            return None
        (first, reference), *others = native.items()
        for modality, image in others:
            if image.shape[:2] != reference.shape[:2]:
                problems.add(self.sets[modality].paths[index],
                             f"{_size(image)} but its {first} partner {Path(self.sets[first].paths[index]).name} "
                             f"is {_size(reference)}")
                return None
        if self.recipes is None:
            return native
        return {m: self.recipes[m].resize_image(image) for m, image in native.items()}

    def _check_bits(self, modality: str, stored: np.ndarray, path: str) -> None:
        bits = 8 * stored.dtype.itemsize
        expected, reason = self.bits[modality]
        if bits == expected:
            return
        if modality == "depth" and expected == 16 and reason is None:
            raise UserError("8-bit depth where 16-bit millimetres are expected "
                            "(declare its units with --depth-scale to accept 8-bit depth)", path=path)
        raise UserError(f"{bits}-bit {modality} where {expected}-bit is expected ({reason})", path=path)


def _expected_bits(image_set: ImageSet) -> tuple[int, str | None]:
    """The stored bit depth every image of the set must have, and why (None: by definition)."""
    if image_set.modality == "rgb":
        return 8, None
    if image_set.modality == "depth" and image_set.depth_scale_mm is None:
        return 16, None  # without a declared scale, depth must be 16-bit millimetres
    for index in range(len(image_set)):  # else: as the first readable image, so that all match
        try:
            stored = image_set.read_stored(index)
        except UserError:
            continue
        return 8 * stored.dtype.itemsize, f"as the first image, {Path(image_set.paths[index]).name}"
    return 8, None


def _size(image: np.ndarray) -> str:
    return f"{image.shape[1]}x{image.shape[0]}"


def _read_row_block(reader: RowReader, span: tuple[int, int]) -> RowBlock:
    return reader.read_row_block(*span)
