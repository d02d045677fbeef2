"""Shared fixtures: small generated image folders in the layouts xmt reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from xmt.cli import main

PATTERNS = ("checker", "hstripes", "vstripes")


def pattern_image(kind: str, rng: np.random.Generator, height: int = 40, width: int = 48) -> np.ndarray:
    """An easy class: stripes or checks in a random colour, with noise (for end-to-end training tests)."""
    yy, xx = np.mgrid[0:height, 0:width]
    period = rng.integers(3, 6)
    pattern = {"hstripes": (yy // period) % 2, "vstripes": (xx // period) % 2,
               "checker": ((yy // period) + (xx // period)) % 2}[kind]
    image = pattern[..., None] * rng.uniform(0.3, 1.0, 3) + rng.normal(0, 0.08, (height, width, 3))
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


def write_pattern_folder(root: Path, per_class: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    for kind in PATTERNS:
        (root / kind).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(pattern_image(kind, rng)).save(root / kind / f"{i:03d}.png")
    return root


@pytest.fixture(scope="session")
def pattern_data(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("patterns")
    return {"train": write_pattern_folder(root / "train", 40, seed=1),
            "test": write_pattern_folder(root / "test", 15, seed=2)}


@pytest.fixture(scope="session")
def source_model(pattern_data, tmp_path_factory) -> Path:
    """A small source model trained once per session through the CLI."""
    out = tmp_path_factory.mktemp("source") / "source.safetensors"
    code = main(["train-source", str(pattern_data["train"]), "--out", str(out), "--backbone", "smallcnn",
                 "--epochs", "6", "--size", "32", "--quiet", "--device", "cpu"])
    assert code == 0
    return out


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    """Run `xmt ARGS` in-process; returns (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err
