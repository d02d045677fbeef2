"""The image set: one modality's samples (a source path each, an optional label) and how to read sample i.

Every reader returns one (folders, list files, packs, the data-set adapters' own layouts), so the
stages read images the same way whatever the input is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xmt.data.encoding import EncodingRecipe, to_chw
from xmt.data.modalities import read_stored, stored_to_native
from xmt.engine.hashing import sha256_lines
from xmt.engine.outputs import check_utf8_name
from xmt.errors import UserError


@dataclass
class ImageSet:
    """Samples of one modality read from image files."""

    source: Path
    modality: str
    paths: list[str]
    labels: np.ndarray  # int64 per sample, -1 when unlabelled
    classes: list[str] | None = None
    depth_scale_mm: float | None = None
    kind: str = field(default="files")
    # class name -> its integer label in a list file of integer labels (kept in artifacts' provenance)
    list_labels: dict[str, int] | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        for path in [self.source, *self.paths]:  # every name an artifact or message will hold
            check_utf8_name(path)

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def labelled(self) -> bool:
        return self.classes is not None

    def read_stored(self, index: int) -> np.ndarray:
        """Sample `index` as its file stores it (before conversion to native units)."""
        return read_stored(self.paths[index], self.modality)

    def to_native(self, stored: np.ndarray, index: int) -> np.ndarray:
        """Stored values of sample `index` -> native units (depth: millimetres)."""
        return stored_to_native(stored, self.modality, self.depth_scale_mm, self.paths[index])

    def read_raw(self, index: int) -> np.ndarray:
        """Sample `index` in native units, at its stored size."""
        return self.to_native(self.read_stored(index), index)

    def read(self, index: int, recipe: EncodingRecipe) -> np.ndarray:
        """Sample `index` in native units, checked against and resized by `recipe`."""
        array = self.read_raw(index)
        recipe.check_native(array, path=self.paths[index])
        return recipe.resize_image(array)

    def read_native_block(self, start: int, stop: int, recipe: EncodingRecipe) -> np.ndarray:
        """Samples start..stop as (n, C, size, size) native arrays (a pack reads them in one slice)."""
        return np.stack([to_chw(self.read(i, recipe)) for i in range(start, stop)])

    @property
    def files_read_plainly(self) -> bool:
        """Whether a list of these files, read with no options, gives what this set reads."""
        return self.depth_scale_mm is None

    def fingerprint(self) -> str:
        """sha256 of the sample paths in order: identifies which images, in which order."""
        return sha256_lines(self.paths)

    def provenance(self) -> dict:
        """What identifies this input in an artifact's metadata."""
        provenance = {"path": str(self.source), "kind": self.kind, "modality": self.modality,
                      "count": len(self), "sha256_paths": self.fingerprint()}
        if self.list_labels is not None:
            provenance["list_labels"] = self.list_labels
        return provenance

    def check_labels(self) -> None:
        """A labelled set needs one label per image, each naming one of its classes."""
        labels = np.asarray(self.labels)
        if labels.ndim != 1 or len(labels) != len(self.paths):
            raise UserError(f"holds {labels.size} labels for {len(self.paths)} images (truncated or corrupt?)",
                            path=self.source)
        if self.classes is None:
            return
        bad = np.flatnonzero((labels < 0) | (labels >= len(self.classes)))
        if len(bad):
            raise UserError(f"label {int(labels[bad[0]])} of image {int(bad[0])} is not one of its {len(self.classes)} "
                            f"classes (0..{len(self.classes) - 1}; {len(bad)} such labels: truncated or corrupt?)",
                            path=self.source)

    def labels_for(self, model_classes: list[str]) -> np.ndarray:
        """This set's labels as indices into `model_classes`; unknown class names are an error."""
        if self.classes is None:
            raise UserError("holds no labels (expected DIR/<class>/<file>, a labelled list or pack)", path=self.source)
        self.check_labels()
        unknown = [name for name in self.classes if name not in model_classes]
        if unknown:
            raise UserError(
                f"classes {unknown[:5]} are not among the model's {len(model_classes)} classes "
                f"({', '.join(model_classes[:8])}{', ...' if len(model_classes) > 8 else ''})",
                path=self.source,
            )
        lookup = np.array([model_classes.index(name) for name in self.classes] + [-1], dtype=np.int64)
        return lookup[self.labels]  # -1 indexes the trailing -1

    def describe(self) -> str:
        what = f"{len(self.classes)} classes" if self.classes is not None else "unlabelled"
        return f"{len(self)} {self.modality} images ({what}) from {self.source}"
