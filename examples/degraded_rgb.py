"""What the source model can read: its accuracy on the target camera's RGB test images degraded as a translation
might be (blurred, posterised, noisy, grey, at lower resolution), beside each degradation's PSNR against the
original. A bridge's translations sit at a known PSNR (its held-out TI pairs); this says whether images that
far from the real ones can be read at all, and which kind of loss the source model minds.

    python degraded_rgb.py --source-model source.safetensors --data bench/target/test/rgb --out degraded-rgb.json

Labels are read only to score (the target camera's RGB test images: a diagnostic, not a method).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image, ImageFilter

from example_files import write_json
from xmt.artifacts import load_model
from xmt.data.batches import NativeImages, load_native
from xmt.data.sets.readers import open_image_set
from xmt.methods.inference import predict


def per_image(transform: Callable[[Image.Image], Image.Image]) -> Callable[[np.ndarray], np.ndarray]:
    """A PIL transform applied to each (3, S, S) uint8 image of a batch."""
    def apply(images: np.ndarray) -> np.ndarray:
        return np.stack([np.asarray(transform(Image.fromarray(im.transpose(1, 2, 0)))).transpose(2, 0, 1)
                         for im in images])
    return apply


def posterise(bits: int) -> Callable[[np.ndarray], np.ndarray]:
    step = 256 // 2**bits
    return lambda images: (images // step * step + step // 2).astype(np.uint8)


def noisy(sigma: float, seed: int = 0) -> Callable[[np.ndarray], np.ndarray]:
    def apply(images: np.ndarray) -> np.ndarray:
        noise = np.random.default_rng(seed).normal(0, 255 * sigma, images.shape)
        return np.clip(images + noise, 0, 255).round().astype(np.uint8)
    return apply


def rescaled(factor: int) -> Callable[[Image.Image], Image.Image]:
    return lambda im: im.resize((im.width // factor, im.height // factor), Image.BILINEAR).resize(im.size,
                                                                                                 Image.BILINEAR)


def grey(im: Image.Image) -> Image.Image:
    return im.convert("L").convert("RGB")


DEGRADATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "original": lambda images: images,
    **{f"blur {r}": per_image(lambda im, r=r: im.filter(ImageFilter.GaussianBlur(r))) for r in (0.5, 1, 1.5, 2, 3, 4)},
    **{f"downsample x{f}": per_image(rescaled(f)) for f in (2, 4, 8)},
    **{f"posterise {b} bits": posterise(b) for b in (3, 2, 1)},
    **{f"noise {s}": noisy(s) for s in (0.05, 0.1, 0.2)},
    "grey": per_image(grey),
    "grey, blur 2": per_image(lambda im: grey(im).filter(ImageFilter.GaussianBlur(2))),
    "image mean colour": lambda images: np.broadcast_to(images.mean(axis=(2, 3), keepdims=True).round(),
                                                        images.shape).astype(np.uint8),
}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """As the bridge reports it: of the mean squared error over all images, values in [0, 1]."""
    mse = float(np.mean((a.astype(np.float64) / 255 - b.astype(np.float64) / 255) ** 2))
    return 10 * math.log10(1 / max(mse, 1e-12))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-model", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True, help="labelled RGB images (the target camera's)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    loaded = load_model(args.source_model)
    images = open_image_set(args.data, "rgb")
    labels = images.labels_for(loaded.classes)
    native = load_native(images, loaded.recipe)
    original = native.images.numpy()
    rows = []
    for name, degrade in DEGRADATIONS.items():
        degraded = degrade(original)
        probs, _ = predict(loaded.model, loaded.recipe, NativeImages(torch.from_numpy(np.ascontiguousarray(degraded)),
                                                                     native.labels, []), torch.device("cpu"))
        accuracy = float((probs.argmax(1).numpy() == labels).mean())
        rows.append({"degradation": name, "psnr": psnr(degraded, original) if name != "original" else None,
                     "accuracy": accuracy})
        print(f"{name:20s} PSNR {rows[-1]['psnr'] or float('inf'):6.2f} dB  accuracy {100 * accuracy:5.1f}%")
    write_json(args.out, {"source_model": str(args.source_model), "data": str(args.data), "rows": rows})


if __name__ == "__main__":
    main()
