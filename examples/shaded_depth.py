"""Copy a folder of depth images as grey shaded renderings of their surfaces (a diagnostic, not a method).

    python shaded_depth.py target/test/depth shaded/

Each pixel is the Lambertian shading of the surface normal that the depth map gives (light from above left
of the camera), darkened with distance; invalid depth is dark. It asks how much of the scene class the
source model can read from geometry alone, drawn as a grey photograph would show it: a bound of a kind on
what a translation of depth without colour or texture can give it. 16-bit depth in millimetres.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from example_files import transform_images

LIGHT = np.array([-0.4, -0.5, 0.77]) / np.linalg.norm([-0.4, -0.5, 0.77])
FOCAL = 0.9  # focal length in image widths, about a Kinect's


def shade(depth_mm: np.ndarray) -> np.ndarray:
    """(H, W) depth in millimetres (0: invalid) -> (H, W) uint8 shading."""
    valid = depth_mm > 0
    filled = np.where(valid, depth_mm, np.median(depth_mm[valid]) if valid.any() else 1.0).astype(np.float64)
    gy, gx = np.gradient(filled)
    scale = FOCAL * depth_mm.shape[1] / np.maximum(filled, 1.0)  # depth step per pixel -> surface slope
    normal = np.stack([-gx * scale, -gy * scale, np.ones_like(filled)])
    lambert = np.clip(np.tensordot(LIGHT, normal, axes=1) / np.linalg.norm(normal, axis=0), 0.0, 1.0)
    light = (0.15 + 0.8 * lambert) * np.clip(1.2 - filled / 8000.0, 0.4, 1.0)
    return (np.where(valid, light, 0.1) * 255).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    args = parser.parse_args()
    transform_images(args.src, args.dst,
                     lambda image: Image.fromarray(np.repeat(shade(np.asarray(image))[..., None], 3, axis=2)))


if __name__ == "__main__":
    main()
