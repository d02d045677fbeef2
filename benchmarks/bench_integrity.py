"""The cost of integrity checks: pack reads with and without per-chunk checksums, and checkpoint loads
with and without the content hash.

    PYTHONPATH=. python benchmarks/bench_integrity.py [--rows 2000] [--size 64] [--repeats 5]

Packs: the same rows (random smooth RGB + 16-bit depth with noise and holes) written twice with each
codec, with HDF5's Fletcher-32 per-chunk checksum (what xmt writes) and without (packs written before
it), then read as the stages read them: random single rows (`PackImageSet.read_stored`, as a
DataLoader over `PackDataset` does) and sequential blocks of 256 rows (`read_native_block`, as
`load_native` does). Checkpoints: a MobileNetV2 classifier's state dict, saved by
`save_checkpoint`; a load reads every tensor, then the verification (content hash and finiteness)
runs. Prints the best of --repeats of each and the ratios; docs/performance.md records the figures.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch
from safetensors import safe_open

import xmt.data.packs.writer as pack_writer
from xmt.data.encoding import EncodingRecipe
from xmt.data.packs.reader import PackImageSet
from xmt.data.packs.writer import PackWriter
from xmt.engine.checkpoint import content_sha256, read_checkpoint, verify_tensors
from xmt.models.classifier import Classifier
from xmt.artifacts import load_model, save_model


def make_rows(rows: int, size: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    coarse = rng.random((rows, 4, 5, 5)).astype(np.float32)
    smooth = torch.nn.functional.interpolate(torch.from_numpy(coarse), size=(size, size), mode="bilinear").numpy()
    rgb = np.clip(smooth[:, :3] * 255 + rng.normal(0, 3, (rows, 3, size, size)), 0, 255).astype(np.uint8)
    depth = 500 + smooth[:, 3:] * 6000 + rng.normal(0, 10, (rows, 1, size, size))
    depth[rng.random(depth.shape) < 0.03] = 0
    return {"rgb": rgb, "depth": np.clip(depth, 0, 65535).astype(np.uint16)}


def write(path: Path, rows: dict[str, np.ndarray], compression: str, checksum: bool) -> None:
    saved = pack_writer.CHECKSUM
    pack_writer.CHECKSUM = saved if checksum else {}
    try:
        with h5py.File(path, "w") as f:
            writer = PackWriter(f, {m: a.dtype for m, a in rows.items()}, rows["rgb"].shape[-1], compression)
            for start in range(0, len(rows["rgb"]), 256):
                writer.append({m: a[start:start + 256] for m, a in rows.items()})
            n = len(rows["rgb"])
            writer.finish(labels=np.zeros(n, np.int64), paths={m: [f"{i}.png" for i in range(n)] for m in rows},
                          classes=["c"], kind="images", provenance={})
    finally:
        pack_writer.CHECKSUM = saved
    with h5py.File(path, "r") as f:
        assert f["images/depth"].fletcher32 == checksum


def best(repeats: int, run) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_pack(path: Path, rows: int, size: int, repeats: int) -> tuple[float, float]:
    """(random rows/s, sequential rows/s), both modalities of each row."""
    sets = [PackImageSet.open(path, m) for m in ("rgb", "depth")]
    recipes = [EncodingRecipe.for_modality("rgb", size=size), EncodingRecipe.for_modality("depth", size=size)]
    order = np.random.default_rng(1).permutation(rows)

    def random_reads():
        for i in order:
            for s in sets:
                s.read_stored(int(i))

    def block_reads():
        for start in range(0, rows, 256):
            for s, r in zip(sets, recipes):
                s.read_native_block(start, min(start + 256, rows), r)

    random_reads(), block_reads()  # warm-up: file opening, page cache
    return rows / best(repeats, random_reads), rows / best(repeats, block_reads)


def bench_checkpoint(path: Path, repeats: int) -> tuple[int, float, float, float, float]:
    """Bytes, and seconds: reading every tensor, verification, read_checkpoint, load_model (all of a load)."""
    model = Classifier("mobilenet_v2", 10)
    save_model(path, model, kind="source-model", classes=[str(i) for i in range(10)],
               recipe=EncodingRecipe.for_modality("rgb", size=64), config={}, provenance={})

    def read_only():
        with safe_open(str(path), framework="pt") as f:
            return {name: f.get_tensor(name) for name in f.keys()}

    tensors = read_only()
    meta = read_checkpoint(path)[1]
    assert meta["content_sha256"] == content_sha256(tensors)
    return (path.stat().st_size, best(repeats, read_only), best(repeats, lambda: verify_tensors(tensors, meta, path)),
            best(repeats, lambda: read_checkpoint(path)), best(repeats, lambda: load_model(path)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--compressions", default="lzf,szip,none")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = make_rows(args.rows, args.size)
    print(f"{args.rows} rows of {args.size}x{args.size} RGB + 16-bit depth; best of {args.repeats}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for compression in args.compressions.split(","):
            rates = {}
            for checksum in (False, True):
                path = root / f"{compression}-{checksum}.h5"
                write(path, rows, compression, checksum)
                rates[checksum] = bench_pack(path, args.rows, args.size, args.repeats)
                label = "fletcher32" if checksum else "no checksum"
                print(f"{compression}, {label}: {path.stat().st_size / 1e6:.2f} MB, random rows "
                      f"{rates[checksum][0]:,.0f}/s, sequential blocks of 256 {rates[checksum][1]:,.0f} rows/s")
            print(f"{compression}: with checksums / without: random {rates[True][0] / rates[False][0]:.3f}, "
                  f"sequential {rates[True][1] / rates[False][1]:.3f}")
        size, read, verify, total, load = bench_checkpoint(root / "m.safetensors", args.repeats)
        print(f"checkpoint mobilenet_v2 ({size / 1e6:.1f} MB): reading its tensors {1000 * read:.1f} ms, "
              f"verification (content hash + finiteness) {1000 * verify:.1f} ms, read_checkpoint "
              f"{1000 * total:.1f} ms, load_model {1000 * load:.1f} ms; verification / tensor read = "
              f"{verify / read:.2f}, verification / load_model = {verify / load:.2f}")


if __name__ == "__main__":
    main()
