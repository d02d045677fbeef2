"""What the training loop costs beyond the model's own step, what per-epoch resumable state costs, and what a
second process buys.

    PYTHONPATH=. python benchmarks/bench_loop.py [--size 64] [--batch 32] [--steps 20] [--backbone mobilenet_v2]
    PYTHONPATH=. python benchmarks/bench_loop.py --torchrun        # also: xmt train-source, 1 vs 2 processes

1. Loop overhead, per stage (train-source, transfer with SHOT, SOCKET and TGKT): the time of a step inside
   `Trainer.fit` (batch encoding, augmentation, loss terms summed on the device, schedule), the per-epoch
   hooks (snapshots, validation) timed apart and left out, divided by the time of a bare step of the same
   model on one fixed, already encoded batch: forward, the same loss, backward, SGD step (both means over
   the steps, best of --repeats taken in turn). Goal <= 1.10.
2. Resume overhead: the same fit with the state written after every epoch against without (ratio).
3. --torchrun: `xmt train-source` on generated PNGs with one process against two (gloo), images per second.

Random weights (no ImageNet download: the cost of a step does not depend on the weights). Best of
--repeats; run on an idle machine, the figures are wall-clock times. docs/performance.md records them.
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
import torch

from xmt.data.batches import NativeImages
from xmt.data.encoding import EncodingRecipe
from xmt.engine.console import set_quiet
from xmt.engine.loop import Trainer
from xmt.engine.optim import sgd_param_groups, shot_sgd
from xmt.engine.run_state import RunState
from xmt.losses import label_smoothed_cross_entropy
from xmt.methods.adapt import Adaptation, AdaptConfig, AdaptData, Batch, frozen_copy
from xmt.methods.shot import ShotObjective
from xmt.methods.socket import SocketObjective
from xmt.methods.source import SourceConfig, SourceTraining
from xmt.methods.tgkt import TgktObjective
from xmt.models.classifier import Classifier
from xmt.pseudo_labels import PseudoLabels

CLASSES = 10
DEVICE = torch.device("cpu")  # --device


def synchronize() -> None:
    """Wait for the device, so that a clock read means the work is done (CUDA runs asynchronously)."""
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def timed_hooks(procedure) -> list[float]:
    """Wrap the per-epoch hooks so that their time can be left out of the steps'."""
    spent = [0.0]
    for name in ("start_epoch", "end_epoch"):
        hook = getattr(procedure, name)

        def wrapped(*args, __hook=hook, **kwargs):
            start = time.perf_counter()
            try:
                return __hook(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - start
        setattr(procedure, name, wrapped)
    return spent


def loop_step_seconds(make_procedure, epochs: int, run_state: RunState | None = None) -> float:
    trainer = Trainer(DEVICE, seed=0, log_name="bench", run_state=run_state)
    procedure = make_procedure(trainer)
    hooks = timed_hooks(procedure)
    synchronize()
    start = time.perf_counter()
    trainer.fit(procedure)
    synchronize()
    total = time.perf_counter() - start
    return (total - hooks[0]) / (epochs * procedure.steps_per_epoch)


def bare_step_seconds(model, loss_of, parameters, steps: int) -> float:
    optimizer = shot_sgd(sgd_param_groups([(parameters, 1.0)], 1e-3))
    times = []
    for i in range(steps + 2):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss_of(model).backward()
        optimizer.step()
        synchronize()
        if i >= 2:
            times.append(time.perf_counter() - start)
    return float(np.mean(times))  # a mean, as the loop's figure is


def interleaved(repeats: int, *measures) -> list[float]:
    """The best of `repeats` of each measure, taken in turn, so that a machine's drift touches both alike."""
    best = [float("inf")] * len(measures)
    for _ in range(repeats):
        best = [min(b, measure()) for b, measure in zip(best, measures)]
    return best


def images(n: int, size: int, channels: int, dtype=torch.uint8, high=256) -> NativeImages:
    generator = torch.Generator().manual_seed(n)
    pixels = torch.randint(0, high, (n, channels, size, size), generator=generator).to(dtype)
    return NativeImages(pixels, torch.randint(0, CLASSES, (n,), generator=generator), [])


def source_figures(args) -> tuple[float, float, float]:
    n = args.batch * args.steps
    native = images(n, args.size, 3)
    recipe = EncodingRecipe.for_modality("rgb", size=args.size)
    config = SourceConfig(backbone=args.backbone, pretrained="none", epochs=args.epochs, batch_size=args.batch,
                          size=args.size, val_fraction=0.0)

    def make(trainer):
        model = Classifier(args.backbone, CLASSES, 256).to(DEVICE).train()
        return SourceTraining(model, native.to(DEVICE), native.labels.numpy(), recipe, [str(i) for i in range(CLASSES)],
                              np.arange(n), np.array([], np.int64), config, DEVICE)

    model = Classifier(args.backbone, CLASSES, 256).to(DEVICE).train()
    x = native.batch(torch.arange(args.batch), recipe, DEVICE)
    y = native.labels[: args.batch].to(DEVICE)
    with tempfile.TemporaryDirectory() as folder:
        state = RunState(Path(folder) / "out.safetensors", {"options": {}, "inputs": {}})
        return tuple(interleaved(
            args.repeats, lambda: loop_step_seconds(make, args.epochs),
            lambda: bare_step_seconds(model, lambda m: label_smoothed_cross_entropy(m(x)[0], y, 0.1),
                                      list(model.parameters()), args.steps),
            lambda: loop_step_seconds(make, args.epochs, state)))


def adapt_figures(args, objective) -> tuple[float, float]:
    n = args.batch * args.steps
    recipe = EncodingRecipe.for_modality("depth", size=args.size)
    tr = images(n, args.size, 1, torch.int32, 10000)
    tr = NativeImages(tr.images.to(torch.uint16), torch.full((n,), -1), [])
    ti = images(n, args.size, 1, torch.int32, 10000)
    ti = NativeImages(ti.images.to(torch.uint16), ti.labels, [])
    teacher = torch.softmax(torch.randn(n, CLASSES), 1)
    data = AdaptData(tr=tr, recipe=recipe, ti_target=ti, ti_source_features=torch.randn(n, 256), teacher_probs=teacher)
    config = AdaptConfig(epochs=args.epochs, batch_size=args.batch)
    device_data = AdaptData(tr=tr.to(DEVICE), recipe=recipe, ti_target=ti.to(DEVICE),
                            ti_source_features=data.ti_source_features, teacher_probs=teacher)
    source = frozen_copy(Classifier(args.backbone, CLASSES, 256)).to(DEVICE)

    def make(trainer):
        return Adaptation(source, device_data, objective, config, DEVICE, None)

    procedure = make(None)
    model = procedure.model
    index = torch.arange(args.batch)
    batch = Batch(x=tr.batch(index, recipe, DEVICE), index=index.to(DEVICE),
                  pseudo=PseudoLabels(torch.randint(0, CLASSES, (args.batch,)).to(DEVICE),
                                      torch.rand(args.batch).to(DEVICE)),
                  teacher=teacher[index].to(DEVICE), ti_x=ti.batch(index, recipe, DEVICE),
                  ti_source_features=data.ti_source_features[index].to(DEVICE))
    trainable = [p for p in model.parameters() if p.requires_grad]
    return tuple(interleaved(args.repeats, lambda: loop_step_seconds(make, args.epochs),
                             lambda: bare_step_seconds(model, lambda m: objective.loss(m, batch)[0], trainable,
                                                       args.steps)))


def torchrun_figures(args) -> tuple[float, float]:
    from PIL import Image

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "rgb"
        rng = np.random.default_rng(0)
        for c in range(CLASSES):
            (root / f"c{c}").mkdir(parents=True)
            for i in range(args.batch * args.steps // CLASSES):
                Image.fromarray(rng.integers(0, 256, (args.size, args.size, 3), dtype=np.uint8)).save(
                    root / f"c{c}" / f"{i}.png")
        rates = []
        for n in (1, 2):
            out = Path(folder) / f"src{n}.safetensors"
            command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n}",
                       "-m", "xmt", "train-source", str(root), "--out", str(out), "--backbone", args.backbone,
                       "--pretrained", "none", "--epochs", str(args.epochs), "--size", str(args.size),
                       "--batch-size", str(args.batch), "--val-fraction", "0", "--device", "cpu", "-q"]
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, env={**os.environ, "PYTHONPATH": "."})
            rates.append(args.batch * args.steps * args.epochs / (time.perf_counter() - start))
        return rates[0], rates[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20, help="steps per epoch")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backbone", default="mobilenet_v2")
    parser.add_argument("--torchrun", action="store_true")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    global DEVICE
    DEVICE = torch.device(args.device)
    torch.manual_seed(0)
    set_quiet(True)
    print(f"{args.backbone} {args.size}x{args.size}, batch {args.batch}, {args.steps} steps x {args.epochs} epochs, "
          f"{torch.get_num_threads()} threads")
    print(f"{'stage':<22}{'loop ms/step':>14}{'bare ms/step':>14}{'ratio':>8}")
    loop, bare, with_state = source_figures(args)
    print(f"{'train-source':<22}{loop * 1e3:>14.1f}{bare * 1e3:>14.1f}{loop / bare:>8.2f}")
    for name, objective in (("transfer shot", ShotObjective()), ("transfer socket", SocketObjective()),
                            ("transfer tgkt", TgktObjective())):
        a_loop, a_bare = adapt_figures(args, objective)
        print(f"{name:<22}{a_loop * 1e3:>14.1f}{a_bare * 1e3:>14.1f}{a_loop / a_bare:>8.2f}")
    print(f"resume state each epoch (train-source): {with_state / loop:.3f}x the time per step without")
    if args.torchrun:
        one, two = torchrun_figures(args)
        print(f"torchrun train-source: 1 process {one:.1f} images/s, 2 processes {two:.1f} images/s "
              f"({two / one:.2f}x)")


if __name__ == "__main__":
    main()
