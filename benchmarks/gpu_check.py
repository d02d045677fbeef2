"""The checks a lent GPU is for, in one short run (a few minutes on one H200):

    PYTHONPATH=. python benchmarks/gpu_check.py [--out gpu-check]

1. The CUDA path end to end at every precision: synth, train-source, prepare-ti, bridge, transfer (TGKT),
   evaluate, with --precision fp32, bf16 and fp16 (each must exit 0 and write finite fp32 weights).
2. No host sync inside a training step: torch.cuda.set_sync_debug_mode("error") around every step and
   backward of train-source, bridge and transfer (per-epoch hooks are left out: they read back by design).
3. bench_loop on the GPU (loop vs bare step ratios). Prints everything; exits 1 if a check fails.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import torch


def xmt(*args) -> None:
    from xmt.cli import main

    code = main([str(a) for a in args])
    if code != 0:
        raise SystemExit(f"FAILED ({code}): xmt {' '.join(map(str, args))}")


def strict_steps() -> None:
    """Raise on any synchronising CUDA call made inside a step or its backward pass."""
    from xmt.engine import loop

    real_backward, real_fit = loop.Trainer.backward_step, loop.Trainer.fit

    def backward_step(self, loss, optimizer):
        # fp16's GradScaler reads its inf check back every step (torch's design): warn there, error elsewhere
        torch.cuda.set_sync_debug_mode("warn" if self.precision == "fp16" else "error")
        try:
            return real_backward(self, loss, optimizer)
        finally:
            torch.cuda.set_sync_debug_mode("default")

    def fit(self, procedure):
        real_step = procedure.step

        def step(*args):
            torch.cuda.set_sync_debug_mode("error")
            try:
                return real_step(*args)
            finally:
                torch.cuda.set_sync_debug_mode("default")
        procedure.step = step
        return real_fit(self, procedure)

    loop.Trainer.backward_step, loop.Trainer.fit = backward_step, fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("gpu-check"))
    args = parser.parse_args()
    assert torch.cuda.is_available(), "no CUDA device"
    print(torch.cuda.get_device_name(0), torch.__version__, flush=True)
    o = args.out
    xmt("synth", o / "bench", "--size", 64, "--source-per-class", 20, "--ti-per-class", 10, "--adapt-per-class", 20,
        "--test-per-class", 10, "--seed", 0, "-q")
    xmt("prepare-ti", "--format", "synth", "--root", o / "bench", "--modality", "depth", "--size", 64,
        "--out", o / "ti.h5", "-q")
    strict_steps()
    adapt, test = o / "bench" / "target" / "adapt" / "depth", o / "bench" / "target" / "test" / "depth"
    for precision in ("fp32", "bf16", "fp16"):
        p = o / precision
        run = ["--device", "cuda", "--precision", precision, "-q"]
        xmt("train-source", o / "bench" / "source" / "rgb", "--out", p / "source.safetensors", "--epochs", 2, *run)
        xmt("bridge", "--source-model", p / "source.safetensors", "--ti", o / "ti.h5", "--target-data", adapt,
            "--target", "depth", "--out", p / "bridge", "--epochs", 2, *run)
        xmt("transfer", "--source-model", p / "source.safetensors", "--target-data", adapt, "--target", "depth",
            "--translated", p / "bridge" / "translated.h5", "--ti", o / "ti.h5", "--out", p / "tgkt.safetensors",
            "--epochs", 2, *run)
        xmt("evaluate", p / "tgkt.safetensors", "--data", test, "--device", "cuda")
        print(f"{precision}: end to end on CUDA, no sync inside a step", flush=True)
    subprocess.run([sys.executable, "benchmarks/bench_loop.py", "--device", "cuda", "--batch", "128"], check=True)


if __name__ == "__main__":
    main()
