"""Decoding image files into arrays in each modality's native units.

- rgb:     uint8 (H, W, 3)
- depth:   uint16 (H, W) millimetres, 0 = invalid. 16-bit files hold millimetres unless a scale is
           declared; 8-bit files need a declared scale (millimetres per unit), since 8-bit depth
           is usually a visualisation rather than a measurement.
- nir, thermal: uint8 or uint16 (H, W), sensor digital numbers.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from xmt.errors import UserError

MODALITIES = ("rgb", "depth", "nir", "thermal")
TARGET_MODALITIES = ("depth", "nir", "thermal")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".ppm", ".pgm", ".webp")
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def check_modality(modality: str) -> str:
    if modality not in MODALITIES:
        raise UserError(f"unknown modality {modality!r}; expected one of {', '.join(MODALITIES)}")
    return modality


def open_image(path: str | Path) -> Image.Image:
    """Open and fully decode an image, turning every decoder failure into a UserError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            image.load()  # decode now, so truncated files fail here rather than later
        return image
    except FileNotFoundError:
        raise UserError("no such image file", path=path)
    except Image.DecompressionBombError:
        raise UserError(f"image too large to decode (over {Image.MAX_IMAGE_PIXELS * 2:,} pixels, Pillow's limit "
                        "against decompression bombs)", path=path) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombWarning) as exc:
        raise UserError(f"cannot read image ({exc})", path=path)


def _single_channel(image: Image.Image, path, modality: str) -> np.ndarray:
    if image.mode in _SIXTEEN_BIT_MODES:
        array = np.asarray(image)
        if array.min() < 0 or array.max() > 65535:
            raise UserError(f"{modality} image has values outside 0..65535", path=path)
        return array.astype(np.uint16)
    if image.mode in ("L", "P"):
        return np.asarray(image.convert("L"), dtype=np.uint8)
    if image.mode in ("RGB", "RGBA"):
        rgb = np.asarray(image.convert("RGB"))
        if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2]):
            return rgb[..., 0].copy()  # grey stored as RGB
        raise UserError(f"a colour image where a single-channel {modality} image is expected", path=path)
    raise UserError(f"unsupported image mode {image.mode!r} for {modality}", path=path)


def read_stored(path: str | Path, modality: str) -> np.ndarray:
    """The values an image file stores: uint8 (H, W, 3) for rgb, uint8 or uint16 (H, W) otherwise."""
    image = open_image(path)
    if modality == "rgb":
        if image.mode in _SIXTEEN_BIT_MODES:
            raise UserError("a 16-bit single-channel image where 8-bit RGB is expected", path=path)
        return np.asarray(image.convert("RGB"), dtype=np.uint8)
    if modality in TARGET_MODALITIES:
        return _single_channel(image, path, modality)
    raise UserError(f"unknown modality {modality!r}", path=path)


def stored_to_native(stored: np.ndarray, modality: str, depth_scale_mm: float | None = None, path=None) -> np.ndarray:
    """Stored values -> native units: only depth changes (to millimetres)."""
    return depth_to_millimetres(stored, depth_scale_mm, path) if modality == "depth" else stored


def depth_to_millimetres(array: np.ndarray, scale_mm: float | None, path=None) -> np.ndarray:
    """Stored depth values -> uint16 millimetres (0 stays 0 = invalid)."""
    if array.dtype == np.uint8 and scale_mm is None:
        raise UserError(
            "8-bit depth image where 16-bit millimetres are expected "
            "(declare its units with --depth-scale MM_PER_UNIT to accept it)",
            path=path,
        )
    if scale_mm is not None and not (math.isfinite(scale_mm) and scale_mm > 0):
        raise UserError(f"--depth-scale {scale_mm}: must be a finite number > 0 (millimetres per stored unit)")
    if scale_mm is None or scale_mm == 1:
        return array.astype(np.uint16)
    millimetres = np.rint(array.astype(np.float64) * scale_mm)
    return np.clip(millimetres, 0, 65535).astype(np.uint16)
