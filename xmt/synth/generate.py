"""Write the synthetic benchmark: source RGB, paired task-irrelevant data, target adapt/test splits.

Every scene's randomness derives from (seed, split, class, index) alone, so the output is the same
whatever the number of worker processes, and the splits never share a scene.
"""

from __future__ import annotations

import json
import multiprocessing
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from xmt.engine.output_kinds import xmt_png_info

from .layouts import ALL_CLASSES, TI_CLASSES, TR_CLASSES, sample_scene
from .png import write_png
from .preview import contact_sheet
from .render import render_scene
from .sensors import PROFILES

RENDERER_VERSION = "1"
SPLITS = ("source", "ti", "adapt", "test")
TARGET_MODALITIES = ("depth", "nir", "rgb")
CHUNK = 16  # scenes per worker task


@dataclass(frozen=True)
class SynthConfig:
    """What `generate` writes. Counts are scenes per class in each split."""
    seed: int = 0
    size: int = 64  # shorter image side in pixels; the longer follows the profile's aspect ratio
    source_profile: str = "kinect_v1"  # camera of the labelled source RGB images
    target_profile: str = "kinect_v1"  # RGB-D(-NIR) rig of the TI pairs and the target splits
    modalities: tuple[str, ...] = ("depth", "nir")  # target modalities; "rgb" adds target-camera RGB
    source_per_class: int = 120
    ti_per_class: int = 120
    adapt_per_class: int = 80
    test_per_class: int = 40
    tr_classes: tuple[str, ...] = field(default_factory=lambda: tuple(TR_CLASSES))
    ti_classes: tuple[str, ...] = field(default_factory=lambda: tuple(TI_CLASSES))

    def validate(self) -> None:
        """Raise ValueError naming the first bad option."""
        for name in (self.source_profile, self.target_profile):
            if name not in PROFILES:
                raise ValueError(f"unknown sensor profile {name!r}; known: {', '.join(PROFILES)}")
        if not self.modalities or any(m not in TARGET_MODALITIES for m in self.modalities):
            raise ValueError(f"modalities must be a non-empty subset of {TARGET_MODALITIES}, got {self.modalities}")
        if len(set(self.modalities)) != len(self.modalities):
            raise ValueError(f"repeated modality in {self.modalities}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if self.size < 16:
            raise ValueError(f"size must be at least 16 pixels, got {self.size}")
        for split in SPLITS:
            if self.per_class(split) < 0:
                raise ValueError(f"{split}_per_class must be >= 0")
        if not any(self.per_class(split) for split in SPLITS):
            raise ValueError("every per-class count is 0: the benchmark would hold no images")
        for label, classes, known in (("tr", self.tr_classes, TR_CLASSES), ("ti", self.ti_classes, TI_CLASSES)):
            unknown = [c for c in classes if c not in known]
            if unknown or not classes or len(set(classes)) != len(classes):
                raise ValueError(f"{label}_classes must be distinct names from {', '.join(known)}; got {classes}")

    def per_class(self, split: str) -> int:
        return getattr(self, f"{split}_per_class")

    def classes(self, split: str) -> tuple[str, ...]:
        return self.ti_classes if split == "ti" else self.tr_classes

    def profile(self, split: str):
        return PROFILES[self.source_profile if split == "source" else self.target_profile]

    def split_modalities(self, split: str) -> tuple[str, ...]:
        """What is rendered and written for a scene of the split."""
        if split == "source":
            return ("rgb",)
        if split == "ti":
            return ("rgb",) + tuple(m for m in self.modalities if m != "rgb")
        return self.modalities


def scene_seed(seed: int, split: str, class_name: str, index: int) -> list[int]:
    """Entropy of one scene. Class codes follow the fixed order of all classes, so choosing a subset
    of classes does not change any image."""
    return [seed, SPLITS.index(split), list(ALL_CLASSES).index(class_name), index]


def render_dataset_scene(config: SynthConfig, split: str, class_name: str, index: int) -> dict[str, np.ndarray]:
    """The arrays that `generate` writes for one scene (plus ground truth, see render_scene)."""
    entropy = scene_seed(config.seed, split, class_name, index)
    scene = sample_scene(class_name, np.random.default_rng(entropy + [0]))
    return render_scene(scene, config.profile(split), config.size, entropy + [1], config.split_modalities(split))


SPLIT_ROOTS = {"source": "source", "ti": "ti", "adapt": "target/adapt", "test": "target/test"}


def relative_path(split: str, modality: str, class_name: str, index: int) -> str:
    return f"{SPLIT_ROOTS[split]}/{modality}/{class_name}/{index:05d}.png"


def _write_chunk(task: tuple[Path, SynthConfig, str, str, int, int]) -> int:
    out_dir, config, split, class_name, start, stop = task
    for index in range(start, stop):
        arrays = render_dataset_scene(config, split, class_name, index)
        for modality in config.split_modalities(split):
            write_png(out_dir / relative_path(split, modality, class_name, index), arrays[modality])
    return stop - start


def manifest(config: SynthConfig) -> dict:
    return {
        "format": "xmt-synth",
        "renderer_version": RENDERER_VERSION,
        "seed": config.seed,
        "size": config.size,
        "image_size": {"source": list(config.profile("source").image_size(config.size)),
                       "target": list(config.profile("test").image_size(config.size))},
        "profiles": {"source": config.profile("source").summary(), "target": config.profile("test").summary()},
        "modalities": list(config.modalities),
        "classes": {"tr": list(config.tr_classes), "ti": list(config.ti_classes)},
        "counts": {split: {c: config.per_class(split) for c in config.classes(split)} for split in SPLITS},
        "paths": {split: f"{root}/{{modality}}/{{class}}/{{id}}.png" for split, root in SPLIT_ROOTS.items()},
        "id_format": "{index:05d}",
        "split_modalities": {split: list(config.split_modalities(split)) for split in SPLITS},
        "depth": {"dtype": "uint16", "units": "mm", "invalid": 0},
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()},
    }


def generate(out_dir: Path, config: SynthConfig, workers: int = 2,
             progress: Callable[[int, int], None] | None = None) -> dict:
    """Render every split into out_dir (which the caller has created, empty); return the manifest.

    Files: source/rgb/<class>/<id>.png, ti/{rgb,<modality>}/<class>/<id>.png,
    target/{adapt,test}/<modality>/<class>/<id>.png and manifest.json, written last.
    progress(done, total) is called in this process as scenes complete.
    """
    config.validate()
    out_dir = Path(out_dir)
    tasks = []
    for split in SPLITS:
        for class_name in config.classes(split):
            for modality in config.split_modalities(split):
                (out_dir / relative_path(split, modality, class_name, 0)).parent.mkdir(parents=True, exist_ok=True)
            n = config.per_class(split)
            tasks += [(out_dir, config, split, class_name, s, min(s + CHUNK, n)) for s in range(0, n, CHUNK)]
    total, done = sum(t[5] - t[4] for t in tasks), 0
    if progress:
        progress(0, total)
    if workers > 1:
        with multiprocessing.Pool(workers) as pool:
            for count in pool.imap_unordered(_write_chunk, tasks):
                done += count
                if progress:
                    progress(done, total)
    else:
        for task in tasks:
            done += _write_chunk(task)
            if progress:
                progress(done, total)
    result = manifest(config)
    (out_dir / "manifest.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result


def render_preview(out_path: Path, config: SynthConfig = SynthConfig(), per_class: int = 2,
                   classes: tuple[str, ...] | None = None, colours: int | None = 256) -> Path:
    """Write a PNG contact sheet: one row per class (TR classes first, then TI), `per_class` scenes per
    row, each as RGB | depth (colour-mapped from near to the sensor's maximum range, black where
    invalid) | NIR through the target profile. The scenes are the data set's own: test split for TR
    classes, TI split for TI classes. `colours`: palette size of the PNG (None: full colour)."""
    config.validate()
    every_modality = replace(config, modalities=TARGET_MODALITIES)
    rows = []
    for name in classes or config.tr_classes + config.ti_classes:
        split = "ti" if name in config.ti_classes else "test"
        label = f"{'TI' if split == 'ti' else 'TR'} {name}"
        rows.append((label, [render_dataset_scene(every_modality, split, name, i) for i in range(per_class)]))
    sheet = contact_sheet(rows, 1000.0 * config.profile("test").depth.max_range, colours)
    out_path = Path(out_path)
    sheet.save(out_path, format="PNG", optimize=True, pnginfo=xmt_png_info())
    return out_path


__all__ = ["SynthConfig", "generate", "manifest", "render_dataset_scene", "render_preview", "relative_path",
           "scene_seed", "RENDERER_VERSION", "SPLITS"]
