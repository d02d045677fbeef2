"""Throughput of the synthetic benchmark generator: scenes per second, all modalities, PNGs written.

    PYTHONPATH=. python benchmarks/bench_synth.py [--workers 2] [--size 64] [--scale 1.0] [--profile kinect_v1]

Generates the default data set (or `--scale` times its counts) into a temporary folder with the given
number of worker processes and prints scenes/s (wall clock, and from the CPU time used, which other
programs on the machine do not inflate), then times each stage of single scenes in this process.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from xmt.synth import PROFILES, SPLITS, SynthConfig, generate, sample_scene
from xmt.synth.camera import Intrinsics
from xmt.synth.generate import scene_seed
from xmt.synth.png import encode_png
from xmt.synth.render import render_depth, render_nir, render_rgb, surface_properties, trace


def throughput(config: SynthConfig, workers: int) -> tuple[int, float, float]:
    """(scenes, wall seconds, CPU seconds of this process and its workers)."""
    with tempfile.TemporaryDirectory() as tmp:
        cpu_before = _cpu_seconds()
        start = time.perf_counter()
        manifest = generate(Path(tmp), config, workers=workers)
        elapsed = time.perf_counter() - start
        cpu = _cpu_seconds() - cpu_before
    return sum(sum(c.values()) for c in manifest["counts"].values()), elapsed, cpu


def _cpu_seconds() -> float:
    """User + system time of this process and of its finished worker processes."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def stage_times(config: SynthConfig, scenes_per_class: int = 4) -> dict[str, float]:
    """Milliseconds per scene for each stage, rendering every modality of TI and test scenes."""
    profile = PROFILES[config.target_profile]
    width, height = profile.image_size(config.size)
    intr = Intrinsics.from_fov(width, height, profile.hfov_deg)
    totals = dict.fromkeys(("layout", "ray cast", "materials", "rgb", "depth", "nir", "png"), 0.0)
    count = 0
    for split in ("test", "ti"):
        for name in config.classes(split):
            for index in range(scenes_per_class):
                rng = np.random.default_rng(scene_seed(config.seed, split, name, index))
                marks = [time.perf_counter()]
                scene = sample_scene(name, rng)
                marks.append(time.perf_counter())
                g = trace(scene, intr)
                marks.append(time.perf_counter())
                s = surface_properties(scene, g)
                marks.append(time.perf_counter())
                rgb = render_rgb(scene, g, s, profile, rng)
                marks.append(time.perf_counter())
                depth = render_depth(g, s, profile, intr.focal, rng)
                marks.append(time.perf_counter())
                nir = render_nir(g, s, profile, rng)
                marks.append(time.perf_counter())
                for image in (rgb, depth, nir):
                    encode_png(image)
                marks.append(time.perf_counter())
                for key, a, b in zip(totals, marks[:-1], marks[1:]):
                    totals[key] += b - a
                count += 1
    return {k: 1000 * v / count for k, v in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the default per-class counts")
    parser.add_argument("--profile", default="kinect_v1", help="target sensor profile")
    args = parser.parse_args()
    base = SynthConfig(size=args.size, target_profile=args.profile)
    config = replace(base, **{f"{s}_per_class": max(1, round(base.per_class(s) * args.scale)) for s in SPLITS})
    load = os.getloadavg()[0]
    scenes, elapsed, cpu = throughput(config, args.workers)
    print(f"generate: {scenes} scenes in {elapsed:.2f} s = {scenes / elapsed:.0f} scenes/s "
          f"({args.workers} workers, size {args.size}, profile {args.profile}, "
          f"modalities {'+'.join(config.modalities)}; load average before: {load:.1f})")
    # wall-clock rates fall when other programs share the cores; CPU time does not
    print(f"CPU: {1000 * cpu / scenes:.2f} ms per scene, so {args.workers * scenes / cpu:.0f} scenes/s "
          f"on {args.workers} otherwise idle cores")
    stages = stage_times(config)
    print("one process, ms per scene: " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items())
          + f"; total {sum(stages.values()):.2f}")


if __name__ == "__main__":
    main()
