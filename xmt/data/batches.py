"""Image sets decoded once into memory, then served as batches on the device.

At the sizes xmt trains at (64x64 by default) a whole data set fits in memory in its native
dtype (10,000 RGB images are 123 MB), so each image is decoded and resized once rather than
every epoch, and batches are encoded on the device by the recipe.
"""

from __future__ import annotations

import math

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from xmt.data.encoding import EncodingRecipe, to_chw
from xmt.data.parallel import ordered_map
from xmt.data.sets.image_set import ImageSet
from xmt.engine.console import progress_bar, warn
from xmt.errors import UserError

_BLOCK = 256


@dataclass
class NativeImages:
    """(N, C, size, size) native-unit images in memory (uint8 or uint16), with labels and paths."""

    images: torch.Tensor
    labels: torch.Tensor  # int64, -1 when unlabelled
    paths: list[str]

    def __len__(self) -> int:
        return self.images.shape[0]

    def batch(self, indices: torch.Tensor, recipe: EncodingRecipe, device: torch.device) -> torch.Tensor:
        """Encoded network input for `indices`, on `device`."""
        return recipe.encode(self.images[indices].to(device, non_blocking=True).float())

    def to(self, device: torch.device) -> "NativeImages":
        """The images on `device` (once, before training: then no step copies data to the device)."""
        return NativeImages(self.images.to(device), self.labels.to(device), self.paths)

    def rows(self, indices: torch.Tensor) -> torch.Tensor:
        """Native images of `indices`, where the images are."""
        return self.images[indices]

    def subset(self, indices: torch.Tensor) -> "NativeImages":
        return NativeImages(self.images[indices], self.labels[indices], [])


class StreamedImages:
    """Images read from their set a batch at a time (`--stream`), for data sets larger than memory: the
    same interface and the same values as NativeImages, with memory flat in the number of images. A batch
    is read on the host (its indices come back from the device: one wait per batch, the price of streaming)."""

    def __init__(self, image_set: ImageSet, recipe: EncodingRecipe, selection: np.ndarray | None = None):
        self.image_set, self.recipe = image_set, recipe
        self.selection = np.arange(len(image_set)) if selection is None else selection
        self.labels = torch.from_numpy(np.asarray(image_set.labels)[self.selection].copy())
        self.paths = [image_set.paths[i] for i in self.selection]

    def __len__(self) -> int:
        return len(self.selection)

    def rows(self, indices: torch.Tensor) -> torch.Tensor:
        chosen = self.selection[indices.cpu().numpy()]
        rows = np.stack([to_chw(self.image_set.read(int(i), self.recipe)) for i in chosen])
        return torch.from_numpy(np.ascontiguousarray(rows))  # the layout in-memory batches have: the same sums

    def batch(self, indices: torch.Tensor, recipe: EncodingRecipe, device: torch.device) -> torch.Tensor:
        return recipe.encode(self.rows(indices).to(device, non_blocking=True).float())

    def to(self, device: torch.device) -> "StreamedImages":
        return self  # rows go to the device a batch at a time

    def subset(self, indices: torch.Tensor) -> "StreamedImages":
        return StreamedImages(self.image_set, self.recipe, self.selection[indices.cpu().numpy()])


def open_native(image_set: ImageSet, recipe: EncodingRecipe, workers: int = 0,
                stream: bool = False) -> NativeImages | StreamedImages:
    """The set's images in memory (decoded once), or with `stream` read a batch at a time; both checked."""
    if not stream:
        return load_native(image_set, recipe, workers)
    image_set.check_labels()
    if image_set.modality == "depth":  # one pass, a block at a time: the check needs every image, not memory
        flags = [depth_flags(image_set.read_native_block(start, min(start + _BLOCK, len(image_set)), recipe))
                 for start in range(0, len(image_set), _BLOCK)]
        judge_depth_content(image_set, *(np.concatenate(parts) for parts in zip(*flags)))
    return StreamedImages(image_set, recipe)


def _read_native_block(shared: tuple[ImageSet, EncodingRecipe], span: tuple[int, int]) -> np.ndarray:
    image_set, recipe = shared
    return image_set.read_native_block(*span, recipe)


def load_native(image_set: ImageSet, recipe: EncodingRecipe, workers: int = 0) -> NativeImages:
    """Decode, check and resize every image of the set; `workers` > 0 decodes in processes."""
    image_set.check_labels()
    spans = [(start, min(start + _BLOCK, len(image_set))) for start in range(0, len(image_set), _BLOCK)]
    arrays = []
    with progress_bar(f"reading {image_set.source.name}", len(image_set)) as bar:
        for block in ordered_map(_read_native_block, spans, workers, shared=(image_set, recipe)):
            arrays.append(block)
            bar.advance(len(block))
    stacked = np.concatenate(arrays)
    if len(stacked) != len(image_set):
        raise UserError(f"holds {len(stacked)} images for {len(image_set)} paths and labels (truncated or corrupt?)",
                        path=image_set.source)
    if image_set.modality == "depth":
        check_depth_content(image_set, stacked)
    images = torch.from_numpy(np.ascontiguousarray(stacked))
    return NativeImages(images, torch.from_numpy(image_set.labels.copy()), list(image_set.paths))


def check_depth_content(image_set: ImageSet, images: np.ndarray) -> None:
    """Depth images with no valid pixel (all 0), or one value everywhere, carry no depth information: a set made
    only of such images is refused; some of them are a warning naming how many and the first."""
    judge_depth_content(image_set, *depth_flags(images))


def depth_flags(images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per image: whether any pixel is valid, whether every valid pixel has one value, and the lowest valid one."""
    flat = images.reshape(len(images), -1)
    valid = flat != 0
    any_valid = valid.any(1)
    low = np.where(valid, flat, np.iinfo(flat.dtype).max).min(1)
    return any_valid, any_valid & (low == flat.max(1)), low


def judge_depth_content(image_set: ImageSet, any_valid: np.ndarray, constant: np.ndarray, low: np.ndarray) -> None:
    if not len(any_valid):
        return
    count = len(any_valid)
    invalid, flat_count = int((~any_valid).sum()), int(constant.sum())
    if invalid == count:
        raise UserError(f"holds no valid depth: every pixel of its {count} image(s) is 0 (invalid); check the "
                        "files' units and --depth-scale", path=image_set.source)
    if invalid + flat_count == count:
        raise UserError(f"no depth image has any structure: {invalid} entirely invalid (all 0), {flat_count} constant "
                        f"(e.g. {image_set.paths[int(np.flatnonzero(constant)[0])]}: every valid pixel "
                        f"{int(low[constant][0])} mm)", path=image_set.source)
    degenerate = np.flatnonzero(~any_valid | constant)
    if len(degenerate):
        warn(f"{image_set.source}: {len(degenerate)} of {count} depth images carry no depth information "
             f"({invalid} entirely invalid, {flat_count} constant; first: {image_set.paths[int(degenerate[0])]})")


def index_batches(
    count: int, batch_size: int, shuffle: bool, generator: torch.Generator | None = None, drop_last: bool = False
) -> list[torch.Tensor]:
    """One epoch of index batches."""
    order = torch.randperm(count, generator=generator) if shuffle else torch.arange(count)
    batches = list(order.split(batch_size))
    if drop_last and len(batches) > 1 and len(batches[-1]) < batch_size:
        batches.pop()
    return batches


def to_device_batches(batches: list[torch.Tensor], device: torch.device) -> list[torch.Tensor]:
    """An epoch's index batches on the device, in one copy (indexing device data with host indices copies them,
    and waits, in every step)."""
    if not batches or device.type == "cpu":
        return batches
    return list(torch.cat(batches).to(device, non_blocking=True).split([len(b) for b in batches]))


def augment(x: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random horizontal flip and random translation by up to `pad` pixels (reflect padding).

    The same geometric augmentation serves every modality (it does not touch values), so
    paired or aligned images may be augmented alike by passing a generator in the same state.
    """
    return apply_augmentation(x, *draw_augmentation(generator, x.shape[0], pad, x.device), pad=pad)


def draw_augmentation(generator: torch.Generator, n: int, pad: int = 4,
                      device: torch.device | None = None) -> tuple[torch.Tensor, ...]:
    """The random draws of `augment` for a batch of `n`: (flip, dy, dx), in the order it makes them."""
    flip = torch.rand(n, generator=generator) < 0.5
    if pad <= 0:
        return (flip.to(device),) if device is not None else (flip,)
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    draws = (flip, dy, dx)
    return tuple(d.to(device) for d in draws) if device is not None else draws


def draw_epoch_augmentation(generator: torch.Generator, batch_sizes: list[int], device: torch.device,
                            pad: int = 4) -> list[tuple[torch.Tensor, ...]]:
    """Every batch's draws for an epoch at once, copied to the device in one go (no copy, no wait, per step).
    The generator is drawn from exactly as per-step `augment` calls would, so results do not change."""
    per_batch = [draw_augmentation(generator, n, pad) for n in batch_sizes]
    if not per_batch:
        return []
    stacked = [torch.cat([draws[k] for draws in per_batch]).to(device, non_blocking=True)
               for k in range(len(per_batch[0]))]
    return list(zip(*(part.split(batch_sizes) for part in stacked)))


def apply_augmentation(x: torch.Tensor, flip: torch.Tensor, dy: torch.Tensor | None = None,
                       dx: torch.Tensor | None = None, pad: int = 4) -> torch.Tensor:
    n, _, h, w = x.shape
    x = torch.where(flip.view(n, 1, 1, 1), x.flip(3), x)
    if pad <= 0:
        return x
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    rows = (dy.view(n, 1) + torch.arange(h, device=x.device).view(1, h))  # (n, h)
    cols = (dx.view(n, 1) + torch.arange(w, device=x.device).view(1, w))  # (n, w)
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    out = padded.permute(0, 2, 3, 1)[batch, rows.view(n, h, 1), cols.view(n, 1, w)]  # (n, h, w, c)
    return out.permute(0, 3, 1, 2).contiguous()


def draw_resized_crops(generator: torch.Generator, n: int, min_area: float) -> torch.Tensor:
    """(n, 4) random crops as ImageNet training draws them: an area fraction in [min_area, 1] and an aspect ratio
    in [3/4, 4/3] (log-uniform), placed uniformly; each row is (width, height, centre x, centre y) as fractions
    of the image in [-1, 1] coordinates (width and height at most 1)."""
    area = min_area + (1 - min_area) * torch.rand(n, generator=generator)
    log_ratio = math.log(3 / 4) + (math.log(4 / 3) - math.log(3 / 4)) * torch.rand(n, generator=generator)
    width = torch.sqrt(area * torch.exp(log_ratio)).clamp(max=1.0)
    height = torch.sqrt(area / torch.exp(log_ratio)).clamp(max=1.0)
    cx = (1 - width) * (2 * torch.rand(n, generator=generator) - 1)
    cy = (1 - height) * (2 * torch.rand(n, generator=generator) - 1)
    return torch.stack([width, height, cx, cy], dim=1)


def apply_resized_crop(x: torch.Tensor, crops: torch.Tensor) -> torch.Tensor:
    """Each image's crop, resized (bilinear) back to the image's size: a small crop comes out magnified, and so
    as blurred as a real photograph seen from closer than its resolution allows."""
    theta = torch.zeros(x.shape[0], 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0], theta[:, 1, 1] = crops[:, 0].to(x.dtype), crops[:, 1].to(x.dtype)
    theta[:, 0, 2], theta[:, 1, 2] = crops[:, 2].to(x.dtype), crops[:, 3].to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
