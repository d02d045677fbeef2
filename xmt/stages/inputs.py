"""Opening and cross-checking the inputs that several stages share."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xmt.data.encoding import DEPTH_RANGE_M, EncodingRecipe  # noqa: F401 (DEPTH_RANGE_M: for the CLI)
from xmt.data.modalities import TARGET_MODALITIES
from xmt.data.packs.reader import PackImageSet, read_pack_header
from xmt.data.sets.image_set import ImageSet
from xmt.data.sets.lists import read_classes_file
from xmt.data.sets.readers import open_image_set
from xmt.errors import UserError


def read_classes(path: str | Path | None) -> list[str] | None:
    """The class names of a --classes file (line i naming label i), if one is given."""
    return None if path is None else read_classes_file(path)


def check_target_modality(target: str) -> str:
    if target not in TARGET_MODALITIES:
        raise UserError(f"--target {target}: expected one of {', '.join(TARGET_MODALITIES)}")
    return target


def check_source_classes(classes: list[str], path: str | Path, stage: str) -> None:
    """A source model of fewer than 2 classes has nothing to transfer (every prediction is the same)."""
    if len(classes) < 2:
        raise UserError(f"the source model has {len(classes)} class(es) ({', '.join(classes) or 'none'}); "
                        f"{stage} needs a source model of at least 2 classes", path=path)


def check_ti_classes(ti: str | Path | None, source_classes: list[str]) -> None:
    """TI data must be task-irrelevant: none of its classes may be one of the source model's classes."""
    if ti is None:
        return
    ti_classes = read_pack_header(ti)["classes"] or []
    shared = sorted(set(ti_classes) & set(source_classes))
    if shared:
        more = f" (and {len(shared) - 8} more)" if len(shared) > 8 else ""
        raise UserError(f"TI pack shares {len(shared)} class(es) with the source model: {', '.join(shared[:8])}{more}; "
                        "TI data must be of other classes than the task's (re-run xmt prepare-ti with --tr-classes "
                        "or --ti-classes)", path=ti)


def check_size(image_set: ImageSet, size: int) -> None:
    """A pack stores images at its own size; it must be the size the model reads."""
    if isinstance(image_set, PackImageSet) and image_set.size != size:
        raise UserError(f"pack stores {image_set.size}x{image_set.size} images but the model reads "
                        f"{size}x{size}; re-pack with --size {size}", path=image_set.source)


def open_ti_pack(path: str | Path, target: str, size: int) -> tuple[PackImageSet, PackImageSet]:
    """The two row-aligned sides of a paired TI pack: (RGB, target modality)."""
    header = read_pack_header(path)
    modalities = header["modalities"]
    if "rgb" not in modalities or target not in modalities:
        raise UserError(f"TI pack holds {', '.join(modalities)} images; expected rgb paired with {target} "
                        "(make it with xmt prepare-ti)", path=path)
    rgb, other = PackImageSet.open(path, "rgb"), PackImageSet.open(path, target)
    check_size(rgb, size)
    return rgb, other


def open_target_images(path: str | Path, target: str, size: int, depth_scale_mm: float | None = None,
                       root: str | Path | None = None) -> ImageSet:
    """TR target images; their labels, read only for scoring and the oracle, may be left unread."""
    images = open_image_set(path, target, depth_scale_mm, root, labels_optional=True)
    check_size(images, size)
    return images


def target_recipe(target: str, like: ImageSet, size: int, depth_range_m: tuple[float, float],
                  channels: str = "replicate") -> EncodingRecipe:
    """The recipe for target images, with the bit depth of `like` (e.g. the TI pack's target side)."""
    bits = 8 * like.read_raw(0).dtype.itemsize
    return EncodingRecipe.for_modality(target, size=size, bit_depth=bits, channels=channels,
                                       depth_range_m=depth_range_m)


def scoring_labels(image_set: ImageSet, classes: list[str]) -> np.ndarray:
    """Labels as indices into `classes` when the data has them all (carried for scoring), else -1."""
    if image_set.labelled and set(image_set.classes) <= set(classes):
        return image_set.labels_for(classes)
    return np.full(len(image_set), -1, np.int64)
