"""`xmt transfer` on 1k, 4k and 16k TR images: time per image, and peak memory with and without --stream.

    PYTHONPATH=. python benchmarks/bench_stream.py [--counts 1000 4000 16000] [--size 32] [--backbone smallcnn]

Generated 16-bit depth images are packed (`xmt pack`), a small source model is trained on generated RGB,
then `xmt transfer --method shot --epochs 1` runs once per count and mode, each in its own process, whose
peak resident memory (ru_maxrss, from os.wait4) and wall time are printed. Time per image should stay
about constant; with --stream peak memory should stay flat as the count grows.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def run(command: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of one command, in its own process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": "."})
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def write_depth(folder: Path, count: int, size: int) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(count)
    for i in range(count):
        depth = (500 + rng.random((size, size)) * 5000).astype(np.uint16)
        Image.fromarray(depth).save(folder / f"{i:05d}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[1000, 4000, 16000])
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--backbone", default="smallcnn")
    args = parser.parse_args()
    xmt = [sys.executable, "-m", "xmt"]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        rng = np.random.default_rng(0)
        for c in range(3):
            (root / "rgb" / f"c{c}").mkdir(parents=True)
            for i in range(20):
                Image.fromarray(rng.integers(0, 256, (args.size, args.size, 3), dtype=np.uint8)).save(
                    root / "rgb" / f"c{c}" / f"{i}.png")
        source = root / "source.safetensors"
        run(xmt + ["train-source", str(root / "rgb"), "--out", str(source), "--backbone", args.backbone,
                   "--epochs", "1", "--size", str(args.size), "--device", "cpu", "-q"])
        print(f"{'images':>8}{'mode':>10}{'seconds':>10}{'ms/image':>10}{'peak MiB':>10}")
        for count in args.counts:
            write_depth(root / f"d{count}", count, args.size)
            pack = root / f"tr{count}.h5"
            run(xmt + ["pack", str(root / f"d{count}"), "--modality", "depth", "--size", str(args.size),
                       "--out", str(pack), "-q"])
            for mode in ("memory", "stream"):
                out = root / f"{mode}{count}.safetensors"
                seconds, peak = run(xmt + ["transfer", "--method", "shot", "--source-model", str(source),
                                           "--target-data", str(pack), "--target", "depth", "--out", str(out),
                                           "--epochs", "1", "--device", "cpu", "-q"]
                                    + (["--stream"] if mode == "stream" else []))
                print(f"{count:>8}{mode:>10}{seconds:>10.1f}{seconds / count * 1e3:>10.2f}{peak:>10.0f}")


if __name__ == "__main__":
    main()
