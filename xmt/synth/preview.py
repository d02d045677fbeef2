"""Contact sheet of the benchmark: for a few scenes of each class, RGB | depth | NIR side by side."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .generate import SynthConfig, render_dataset_scene

# depth colour map anchors, near to far (blue-green-yellow-red, like "turbo"); invalid depth is black
_ANCHORS = np.array([[48, 18, 59], [40, 120, 230], [30, 200, 160], [160, 230, 50], [250, 180, 30], [200, 40, 10]],
                    dtype=float)
LABEL_WIDTH = 110
HEADER_HEIGHT = 12


def colourise_depth(depth_mm: np.ndarray, max_mm: float = 8000.0) -> np.ndarray:
    """uint8 RGB image of a depth map: colour by distance, black where there is no measurement."""
    x = np.clip(depth_mm / max_mm, 0.0, 1.0) * (len(_ANCHORS) - 1)
    i = np.minimum(x.astype(int), len(_ANCHORS) - 2)
    f = (x - i)[..., None]
    rgb = _ANCHORS[i] * (1 - f) + _ANCHORS[i + 1] * f
    return np.where((depth_mm > 0)[..., None], rgb, 0).astype(np.uint8)


def render_preview(out_path: Path, config: SynthConfig = SynthConfig(), per_class: int = 2,
                   classes: tuple[str, ...] | None = None, colours: int | None = 256) -> Path:
    """Write a PNG contact sheet: one row per class (TR classes first, then TI), `per_class` scenes per
    row, each as RGB | depth (colour-mapped from near to the sensor's maximum range, black where
    invalid) | NIR, through the target profile. The scenes are those of the dataset's test split (TR
    classes) and TI split (TI classes). `colours` > 0 stores an adaptive palette: a third of the size."""
    config.validate()
    names = classes or config.tr_classes + config.ti_classes
    max_mm = 1000.0 * config.profile("test").depth.max_range
    rows = []
    for name in names:
        split = "ti" if name in config.ti_classes else "test"
        tiles = []
        for index in range(per_class):
            arrays = render_dataset_scene(_all_modalities(config), split, name, index)
            nir = np.repeat(arrays["nir"][..., None], 3, axis=2)
            spacer = np.full((arrays["rgb"].shape[0], 4, 3), 255, np.uint8)
            tiles += [arrays["rgb"], colourise_depth(arrays["depth"], max_mm), nir, spacer]
        row = np.concatenate(tiles, axis=1)
        rows.append(np.concatenate([np.full((row.shape[0], LABEL_WIDTH, 3), 255, np.uint8), row], axis=1))
    tile_width = arrays["rgb"].shape[1]
    header = np.full((HEADER_HEIGHT, rows[0].shape[1], 3), 255, np.uint8)
    gap = np.full((2, rows[0].shape[1], 3), 255, np.uint8)
    sheet = Image.fromarray(np.concatenate([header] + [part for row in rows for part in (row, gap)], axis=0))
    draw = ImageDraw.Draw(sheet)
    for index in range(per_class):
        for k, label in enumerate(("RGB", "depth", "NIR")):
            draw.text((LABEL_WIDTH + index * (3 * tile_width + 4) + k * tile_width + 2, 1), label, fill=(0, 0, 0))
    y = HEADER_HEIGHT
    for name, row in zip(names, rows):
        tag = "TI" if name in config.ti_classes else "TR"
        draw.text((4, y + row.shape[0] // 2 - 6), f"{tag} {name}", fill=(0, 0, 0))
        y += row.shape[0] + 2
    if colours:
        sheet = sheet.quantize(colours, method=Image.Quantize.FASTOCTREE)
    out_path = Path(out_path)
    sheet.save(out_path, optimize=True)
    return out_path


def _all_modalities(config: SynthConfig) -> SynthConfig:
    """The same scenes with every target modality rendered."""
    return replace(config, modalities=("depth", "nir", "rgb"))
