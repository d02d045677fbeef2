"""Contact sheets: rows of RGB | depth | NIR tiles with a class label, for looking at the benchmark."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

# depth colour map anchors, near to far (blue-green-yellow-red, like "turbo"); invalid depth is black
_ANCHORS = np.array([[48, 18, 59], [40, 120, 230], [30, 200, 160], [160, 230, 50], [250, 180, 30], [200, 40, 10]],
                    dtype=float)
LABEL_WIDTH = 110
HEADER_HEIGHT = 12
SPACER = 4


def colourise_depth(depth_mm: np.ndarray, max_mm: float = 8000.0) -> np.ndarray:
    """uint8 RGB image of a depth map: colour by distance, black where there is no measurement."""
    x = np.clip(depth_mm / max_mm, 0.0, 1.0) * (len(_ANCHORS) - 1)
    i = np.minimum(x.astype(int), len(_ANCHORS) - 2)
    f = (x - i)[..., None]
    rgb = _ANCHORS[i] * (1 - f) + _ANCHORS[i + 1] * f
    return np.where((depth_mm > 0)[..., None], rgb, 0).astype(np.uint8)


def contact_sheet(rows: list[tuple[str, list[dict[str, np.ndarray]]]], max_mm: float,
                  colours: int | None = 256) -> Image.Image:
    """One row per (label, scenes); each scene's "rgb", "depth" (mm) and "nir" arrays side by side.

    `colours` > 0 stores an adaptive palette (a third of the file size for a PNG)."""
    strips = []
    for _, scenes in rows:
        tiles = []
        for arrays in scenes:
            height = arrays["rgb"].shape[0]
            tiles += [arrays["rgb"], colourise_depth(arrays["depth"], max_mm),
                      np.repeat(arrays["nir"][..., None], 3, axis=2), np.full((height, SPACER, 3), 255, np.uint8)]
        strip = np.concatenate(tiles, axis=1)
        strips.append(np.concatenate([np.full((strip.shape[0], LABEL_WIDTH, 3), 255, np.uint8), strip], axis=1))
    width = strips[0].shape[1]
    gap = np.full((2, width, 3), 255, np.uint8)
    parts = [np.full((HEADER_HEIGHT, width, 3), 255, np.uint8)] + [p for strip in strips for p in (strip, gap)]
    sheet = Image.fromarray(np.concatenate(parts, axis=0))
    draw = ImageDraw.Draw(sheet)
    tile_width = rows[0][1][0]["rgb"].shape[1]
    for index in range(len(rows[0][1])):
        for k, name in enumerate(("RGB", "depth", "NIR")):
            draw.text((LABEL_WIDTH + index * (3 * tile_width + SPACER) + k * tile_width + 2, 1), name, fill=(0, 0, 0))
    y = HEADER_HEIGHT
    for (label, _), strip in zip(rows, strips):
        draw.text((4, y + strip.shape[0] // 2 - 6), label, fill=(0, 0, 0))
        y += strip.shape[0] + 2
    return sheet.quantize(colours, method=Image.Quantize.FASTOCTREE) if colours else sheet
