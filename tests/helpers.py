"""Helpers shared by the tests: generated images and an in-process `xmt` runner.

Tests import these with `from helpers import ...` (pyproject's pytest `pythonpath` puts tests/ on sys.path);
fixtures stay in conftest.py, which pytest loads itself and no test should import.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from xmt.cli import main

PATTERNS = ("checker", "hstripes", "vstripes")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"  # the reproduction scripts, tested too

TINY_SIZE = 32  # the image size of the tiny embedded benchmark (conftest's tiny_* fixtures)


def pattern_image(kind: str, rng: np.random.Generator, height: int = 40, width: int = 48) -> np.ndarray:
    """An easy class: stripes or checks in a random colour, with noise (for end-to-end training tests)."""
    yy, xx = np.mgrid[0:height, 0:width]
    period = rng.integers(3, 6)
    pattern = {"hstripes": (yy // period) % 2, "vstripes": (xx // period) % 2,
               "checker": ((yy // period) + (xx // period)) % 2}[kind]
    image = pattern[..., None] * rng.uniform(0.3, 1.0, 3) + rng.normal(0, 0.08, (height, width, 3))
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


def write_pattern_folder(root: Path, per_class: int, seed: int) -> Path:
    """A class-folder image set: `per_class` pattern images of each of PATTERNS under root/<class>/."""
    rng = np.random.default_rng(seed)
    for kind in PATTERNS:
        (root / kind).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(pattern_image(kind, rng)).save(root / kind / f"{i:03d}.png")
    return root


def run_cli(args: list, capsys) -> tuple[int, str, str]:
    """Run `xmt ARGS` in-process; returns (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err
