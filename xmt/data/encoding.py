"""The encoding recipe: how a modality's native images become network input.

It is declared once, stored in every checkpoint and pack, and re-applied wherever the model
reads data, so a model always reads its data the way it was trained. Two halves:

- geometry (NumPy, per image, when data is read): shorter side to `size`, centre crop; depth is
  resized without mixing invalid (zero) pixels into valid ones;
- values (torch, per batch, on the device): scale to [0, 1] (depth clipped to `depth_range_m`),
  expand one channel to three (`replicate` as SOCKET does, or a `colormap`), normalise.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from functools import lru_cache

import numpy as np
import torch
from PIL import Image

from xmt.data.modalities import check_modality
from xmt.errors import UserError

def channel_constant(values: tuple[float, ...], like: torch.Tensor) -> torch.Tensor:
    """(1, C, 1, 1) constants on `like`'s device and dtype, made once: a fresh small tensor per batch would be
    a host-to-device copy, and a wait, in every step."""
    return _channel_constant(tuple(values), like.device, like.dtype)


@lru_cache(maxsize=64)
def _channel_constant(values: tuple[float, ...], device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    return torch.tensor(values, device=device, dtype=dtype).view(1, len(values), 1, 1)


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# How an image of any size becomes size x size (the last two read an image at 256/224 of the size first):
# xmt's own; torchvision's ImageNet evaluation (shorter side, then centre crop); SHOT's test transform
# (a square resize, then centre crop).
RESIZE_POLICIES = ("shorter-side-centre-crop", "torchvision-eval", "shot-test")
CHANNEL_MODES = ("replicate", "colormap")
# A resized depth pixel stays valid only if most of the source pixels under it were valid.
MIN_VALID_WEIGHT = 0.5


# metres: the range depth is scaled over, unless --depth-near/--depth-far say otherwise (the one default)
DEPTH_RANGE_M = (0.0, 10.0)


@dataclass(frozen=True)
class EncodingRecipe:
    modality: str
    size: int = 64
    bit_depth: int = 8
    resize: str = "shorter-side-centre-crop"
    depth_range_m: tuple[float, float] = DEPTH_RANGE_M
    channels: str = "rgb"
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    @classmethod
    def for_modality(
        cls,
        modality: str,
        size: int = 64,
        bit_depth: int | None = None,
        channels: str = "replicate",
        depth_range_m: tuple[float, float] = DEPTH_RANGE_M,
    ) -> "EncodingRecipe":
        check_modality(modality)
        if modality == "rgb":
            return cls("rgb", size=size, bit_depth=8, channels="rgb")
        if channels not in CHANNEL_MODES:
            raise UserError(f"channel expansion {channels!r}: expected one of {', '.join(CHANNEL_MODES)}")
        lo, hi = depth_range_m
        if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo < hi):
            raise UserError(f"depth range {depth_range_m}: expected 0 <= near < far (metres)")
        depth_bits = 16 if modality == "depth" else bit_depth or 8
        return cls(modality, size=size, bit_depth=depth_bits, channels=channels,
                   depth_range_m=(float(lo), float(hi)), mean=(0.5,) * 3, std=(0.25,) * 3)

    # ---- storage -------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "EncodingRecipe":
        data = dict(data)
        for key in ("depth_range_m", "mean", "std"):
            data[key] = tuple(data[key])
        return cls(**data)

    @property
    def in_channels(self) -> int:
        """Channels of the native image (before expansion)."""
        return 3 if self.modality == "rgb" else 1

    # ---- geometry (NumPy) ----------------------------------------------------------------
    def check_native(self, array: np.ndarray, path=None) -> None:
        """Refuse images whose modality or bit depth differs from the recipe's."""
        expected = np.uint8 if self.bit_depth == 8 else np.uint16
        channels_ok = (array.ndim == 3 and array.shape[2] == 3) if self.modality == "rgb" else array.ndim == 2
        if not channels_ok or array.dtype != expected:
            shape = "x".join(map(str, array.shape))
            raise UserError(
                f"{array.dtype} {shape} image does not fit the recipe "
                f"({self.modality}, {self.bit_depth}-bit, {self.in_channels} channel(s))",
                path=path,
            )

    def resize_image(self, array: np.ndarray) -> np.ndarray:
        """Native (H, W[, 3]) -> native (size, size[, 3]), same dtype."""
        return resize_centre_crop(array, self.size, self.resize, masked=self.modality == "depth")

    # ---- values (torch, batched) ---------------------------------------------------------
    def to_unit(self, native: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) native values as float -> [0, 1]; invalid depth (0) -> 0."""
        native = native.float()
        if self.modality == "depth":
            lo, hi = self.depth_range_m
            metres = native / 1000.0
            unit = (metres.clamp(lo, hi) - lo) / (hi - lo)
            return torch.where(native > 0, unit, torch.zeros_like(unit))
        return native / float(2**self.bit_depth - 1)

    def expand(self, unit: torch.Tensor) -> torch.Tensor:
        if self.channels == "rgb":
            return unit
        if self.channels == "colormap":
            return jet_colormap(unit[:, 0])
        return unit.expand(-1, 3, -1, -1)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        return (x - channel_constant(self.mean, x)) / channel_constant(self.std, x)

    def denormalise(self, x: torch.Tensor) -> torch.Tensor:
        return x * channel_constant(self.std, x) + channel_constant(self.mean, x)

    def encode(self, native: torch.Tensor) -> torch.Tensor:
        """Native batch -> network input (N, 3, size, size)."""
        return self.normalise(self.expand(self.to_unit(native)))

    def with_statistics(self, native_sample: torch.Tensor) -> "EncodingRecipe":
        """The same recipe normalised with the per-channel mean/std of a sample of its data."""
        x = self.expand(self.to_unit(native_sample)).double()
        mean = x.mean(dim=(0, 2, 3))
        std = x.std(dim=(0, 2, 3)).clamp_min(1e-3)
        return replace(self, mean=tuple(mean.tolist()), std=tuple(std.tolist()))


def to_chw(array: np.ndarray) -> np.ndarray:
    """An image as (C, H, W): (H, W) grey gets one channel, (H, W, 3) is transposed (a view)."""
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def to_hwc(chw: np.ndarray) -> np.ndarray:
    """(C, H, W) back to (H, W) for one channel or (H, W, 3)."""
    return chw[0] if chw.shape[0] == 1 else np.ascontiguousarray(chw.transpose(1, 2, 0))


def jet_colormap(unit: torch.Tensor) -> torch.Tensor:
    """(N, H, W) in [0, 1] -> (N, 3, H, W): the classic piecewise-linear 'jet' colour map."""
    x = unit.clamp(0, 1).unsqueeze(1)
    centres = channel_constant((0.75, 0.5, 0.25), unit)
    return (1.5 - (4 * (x - centres)).abs()).clamp(0, 1)


def _resize_float(array: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.asarray(Image.fromarray(array.astype(np.float32)).resize((width, height), Image.BILINEAR))


def _resize_geometry(height: int, width: int, size: int, policy: str) -> tuple[int, int, int, int]:
    """(resized width, resized height, crop top, crop left) of a policy, in torchvision's arithmetic for its two."""
    if policy == "shorter-side-centre-crop":
        scale = size / min(height, width)
        new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
        return new_w, new_h, (new_h - size) // 2, (new_w - size) // 2
    larger = size * 256 // 224
    if policy == "shot-test":
        new_w = new_h = larger
    elif policy == "torchvision-eval":
        if width <= height:
            new_w, new_h = larger, int(larger * height / width)
        else:
            new_w, new_h = int(larger * width / height), larger
    else:
        raise UserError(f"resize policy {policy!r}: expected one of {', '.join(RESIZE_POLICIES)}")
    return new_w, new_h, int(round((new_h - size) / 2.0)), int(round((new_w - size) / 2.0))


def resize_shorter_side_centre_crop(array: np.ndarray, size: int, masked: bool = False) -> np.ndarray:
    return resize_centre_crop(array, size, "shorter-side-centre-crop", masked)


def resize_centre_crop(array: np.ndarray, size: int, policy: str = "shorter-side-centre-crop",
                       masked: bool = False) -> np.ndarray:
    """Resize as `policy` says (bilinear, as PIL does it), then crop the centre square.

    `masked` (depth): average only valid (non-zero) pixels, and mark an output pixel invalid when
    less than half of what it covers was valid, so holes never blend into depth values.
    """
    height, width = array.shape[:2]
    if (height, width) == (size, size) and policy == "shorter-side-centre-crop":
        return array
    new_w, new_h, top, left = _resize_geometry(height, width, size, policy)
    crop = (slice(top, top + size), slice(left, left + size))
    if array.ndim == 3:
        resized = array if (new_w, new_h) == (width, height) else \
            np.asarray(Image.fromarray(array).resize((new_w, new_h), Image.BILINEAR))
        return resized[crop]
    if masked:
        valid = (array > 0).astype(np.float32)
        weight = _resize_float(valid, new_w, new_h)[crop]
        total = _resize_float(array.astype(np.float32) * valid, new_w, new_h)[crop]
        out = np.where(weight >= MIN_VALID_WEIGHT, total / np.maximum(weight, 1e-6), 0.0)
    else:
        out = _resize_float(array, new_w, new_h)[crop]
    limit = np.iinfo(array.dtype).max
    return np.clip(np.rint(out), 0, limit).astype(array.dtype)
