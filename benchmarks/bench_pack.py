"""Packing speed, DataLoader read speed and pack size, on generated RGB + 16-bit depth PNG pairs.

    PYTHONPATH=. python benchmarks/bench_pack.py [--pairs 2000] [--input-size 64] [--size 64]

Prints one line per measurement; docs/performance.md records the figures with the command.
The images are smooth random fields with sensor-like noise (depth with holes), so that PNG
compresses them about as well as it compresses camera frames.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from xmt.data.packs.reader import PackDataset
from xmt.data.packs.writer import write_pack
from xmt.data.sets.pairing import pair_folders
from xmt.data.validation import Problems
from xmt.engine.console import set_quiet


def smooth_field(rng: np.random.Generator, size: int, channels: int) -> np.ndarray:
    """Bilinear upsampling of a coarse random grid: values in [0, 1], shape (size, size, channels)."""
    coarse = rng.random((5, 5, channels)).astype(np.float32)
    planes = [np.asarray(Image.fromarray(coarse[..., c]).resize((size, size), Image.BILINEAR)) for c in range(channels)]
    return np.stack(planes, axis=-1)


def write_pairs(root: Path, pairs: int, size: int, classes: int = 10) -> int:
    """root/rgb/<class>/<i>.png and root/depth/<class>/<i>.png; returns their total bytes."""
    rng = np.random.default_rng(0)
    total = 0
    for i in range(pairs):
        name = f"c{i % classes}/{i:05d}.png"
        rgb = np.clip(smooth_field(rng, size, 3) * 255 + rng.normal(0, 3, (size, size, 3)), 0, 255).astype(np.uint8)
        depth = 500 + smooth_field(rng, size, 1)[..., 0] * 6000 + rng.normal(0, 10, (size, size))
        depth[rng.random((size, size)) < 0.03] = 0  # missing measurements
        for modality, array in (("rgb", rgb), ("depth", np.clip(depth, 0, 65535).astype(np.uint16))):
            path = root / modality / name
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(array).save(path)
            total += path.stat().st_size
    return total


def bench_packing(root: Path, size: int, workers: int, compression: str) -> tuple[float, int]:
    out = root / f"pack-{workers}-{compression}.h5"
    start = time.perf_counter()
    pairs = pair_folders(root / "rgb", root / "depth", "depth", None, Problems())
    out.unlink(missing_ok=True)  # the benchmark's own file from a previous measurement
    result = write_pack(out, pairs.image_sets(), size, {}, root=root, workers=workers, compression=compression)
    elapsed = time.perf_counter() - start
    return result.count / elapsed, out.stat().st_size


def bench_reading(pack: Path, workers: int, batch_size: int = 64) -> float:
    loader = torch.utils.data.DataLoader(PackDataset(pack), batch_size=batch_size, shuffle=True, num_workers=workers,
                                         persistent_workers=workers > 0)
    for _ in loader:  # warm-up epoch: worker start-up and file opening are not reading
        pass
    start, count = time.perf_counter(), 0
    for rgb, *_ in loader:
        count += len(rgb)
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--input-size", type=int, default=64, help="side of the generated PNGs")
    parser.add_argument("--size", type=int, default=64, help="side of the packed images")
    args = parser.parse_args()
    set_quiet(True)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        png_bytes = write_pairs(root, args.pairs, args.input_size)
        print(f"{args.pairs} pairs of {args.input_size}x{args.input_size} PNGs (RGB + 16-bit depth), "
              f"{png_bytes / 1e6:.2f} MB, packed at {args.size}x{args.size}")
        for workers in (0, 1, 2):
            rate, _ = bench_packing(root, args.size, workers, "lzf")
            print(f"packing, lzf, workers={workers}: {rate:.0f} pairs/s")
        for compression in ("lzf", "gzip", "szip", "none"):
            _, pack_bytes = bench_packing(root, args.size, 2, compression)
            print(f"pack size, {compression}: {pack_bytes / 1e6:.2f} MB = {pack_bytes / png_bytes:.2f} x the PNGs")
        for compression in ("lzf", "szip"):
            for workers in (0, 2):
                rate = bench_reading(root / f"pack-2-{compression}.h5", workers)
                print(f"DataLoader random access to pairs, {compression} (batch 64, shuffle), workers={workers}: "
                      f"{rate:.0f} samples/s")


if __name__ == "__main__":
    main()
