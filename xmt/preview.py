"""Contact sheets: rows of images side by side, saved as one PNG for a person to look at."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from xmt.data.encoding import jet_colormap
from xmt.engine.output_kinds import xmt_png_info


def to_rgb_uint8(unit: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) in [0, 1] -> (N, H, W, 3) uint8; one-channel input is colour-mapped (jet)."""
    if unit.shape[1] == 1:
        unit = jet_colormap(unit[:, 0])
    return (unit.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def save_grid(columns: list[np.ndarray], path: str | Path, scale: int = 2, gap: int = 2) -> Path:
    """columns: equal-length lists of (N, H, W, 3) uint8 images; row i shows image i of each column."""
    rows, height, width, _ = columns[0].shape
    sheet = np.full((rows * (height + gap) + gap, len(columns) * (width + gap) + gap, 3), 255, np.uint8)
    for c, column in enumerate(columns):
        for r in range(rows):
            top, left = gap + r * (height + gap), gap + c * (width + gap)
            sheet[top:top + height, left:left + width] = column[r]
    image = Image.fromarray(sheet)
    image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    image.save(path, format="PNG", pnginfo=xmt_png_info())
    return Path(path)
