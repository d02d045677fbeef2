"""NYU Depth v2, labelled subset (Silberman et al., ECCV 2012): nyu_depth_v2_labeled.mat.

A MATLAB v7.3 file, which is HDF5; h5py sees MATLAB's arrays with their axes reversed:
images (N, 3, W, H) uint8 (MATLAB: H x W x 3 x N), depths (N, W, H) float metres (MATLAB:
H x W x N), sceneTypes (1, N) references to uint16 character arrays. Samples are addressed as
`<file>#images/<i>` and `<file>#depths/<i>`; the scene type is the class.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from xmt.data.h5files import ProcessLocalH5
from xmt.data.sets.adapters import FORMATS, AdapterOptions, Found, require_modality
from xmt.data.sets.image_set import ImageSet
from xmt.data.sets.pairing import pairs_from_rows
from xmt.data.validation import Problems
from xmt.errors import UserError

DATASETS = {"rgb": "images", "depth": "depths"}


def metres_to_millimetres(metres: np.ndarray) -> np.ndarray:
    """float metres -> uint16 millimetres; non-finite or non-positive depth -> 0 (invalid)."""
    millimetres = np.rint(np.nan_to_num(metres, nan=0.0, posinf=0.0, neginf=0.0) * 1000.0)
    return np.clip(millimetres, 0, 65535).astype(np.uint16)


class NyuImageSet(ProcessLocalH5, ImageSet):
    """RGB or depth samples inside the labelled .mat file, read lazily per process."""

    @property
    def files_read_plainly(self) -> bool:
        return False

    def read_stored(self, index: int) -> np.ndarray:
        frame = int(self.paths[index].rsplit("/", 1)[1])
        try:
            array = self._h5_dataset(self.source, DATASETS[self.modality])[frame]
        except (OSError, KeyError, ValueError) as exc:  # a damaged or truncated .mat
            raise UserError(f"cannot read this sample ({exc})", path=self.paths[index])
        if self.modality == "rgb":
            return np.ascontiguousarray(array.transpose(2, 1, 0))  # (3, W, H) -> (H, W, 3)
        return metres_to_millimetres(array.T)  # (W, H) -> (H, W)


@FORMATS.register("nyuv2")
def find(root: Path, options: AdapterOptions, problems: Problems) -> Found:
    require_modality(options, "depth", "nyuv2")
    if options.depth_scale_mm is not None:
        raise UserError("--depth-scale does not apply to --format nyuv2: its depth is stored in metres")
    if not root.is_file():
        raise UserError("expected the labelled .mat file (nyu_depth_v2_labeled.mat)", path=root)
    try:
        with h5py.File(root, "r") as f:
            missing = [name for name in ("images", "depths", "sceneTypes") if name not in f]
            if missing:
                raise UserError(f"holds no {', '.join(missing)}: not NYU Depth v2's labelled .mat", path=root)
            count = f["images"].shape[0]
            if f["images"].ndim != 4 or f["images"].shape[1] != 3 or f["depths"].shape != (count, *f["images"].shape[2:]):
                raise UserError(f"images {f['images'].shape} and depths {f['depths'].shape} do not match "
                                "(expected (N, 3, W, H) and (N, W, H))", path=root)
            references = f["sceneTypes"][()].reshape(-1)
            if len(references) != count:
                raise UserError(f"{len(references)} scene types for {count} images", path=root)
            scenes = [_text(f, ref) for ref in references]
    except OSError as exc:
        raise UserError(f"not a MATLAB v7.3 (HDF5) file ({exc})", path=root)
    rows = [i for i, scene in enumerate(scenes) if scene]
    for i in sorted(set(range(count)) - set(rows)):
        problems.add(f"{root}#sceneTypes/{i}", "empty scene type")
    return Found(pairs_from_rows([f"{root}#images/{i}" for i in rows], [f"{root}#depths/{i}" for i in rows],
                                 [scenes[i] for i in rows], _make_set(root), "depth"))


def _text(f: h5py.File, reference) -> str:
    """A MATLAB char array (uint16 codes behind an object reference) as a string."""
    return "".join(map(chr, f[reference][()].flatten())).strip()


def _make_set(root: Path):
    def make(modality, paths, labels, classes):
        return NyuImageSet(root, modality, paths, labels, classes)
    return make
