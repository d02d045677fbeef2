"""Time of one training step (forward, backward, SGD update) of each backbone and translator.

    PYTHONPATH=. python benchmarks/bench_steps.py [--batch 32] [--size 64] [--steps 10]

Prints milliseconds per step (median of --steps after two warm-up steps) and parameter counts, on
random inputs; docs/performance.md records the figures with the command. Run it on an idle machine:
the figures are wall-clock times.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from xmt.models.classifier import Classifier
from xmt.models.translators import build_translator


def ms_per_step(model: nn.Module, make_loss, x: torch.Tensor, steps: int) -> float:
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    times = []
    for i in range(steps + 2):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        make_loss(model, x).backward()
        optimizer.step()
        if i >= 2:
            times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def classifier_loss(model, x):
    logits, _ = model(x)
    return logits.logsumexp(1).mean()


def translator_loss(model, x):
    return model(x[:, :1]).square().mean()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.randn(args.batch, 3, args.size, args.size)
    print(f"batch {args.batch}, {args.size}x{args.size}, {torch.get_num_threads()} threads")
    cases = [(f"classifier {name}", Classifier(name, 10), classifier_loss)
             for name in ("smallcnn", "mobilenet_v2", "resnet18")]
    cases += [("translator light", build_translator("light"), translator_loss),
              ("translator unet (16, depth 4)", build_translator("unet"), translator_loss),
              ("translator unet (32, depth 3)", build_translator("unet", base_channels=32, depth=3), translator_loss),
              ("translator vq", build_translator("vq"), translator_loss)]
    for name, model, loss in cases:
        model.train()
        params = sum(p.numel() for p in model.parameters())
        print(f"{name:34s} {params / 1e6:6.2f} M parameters  {ms_per_step(model, loss, x, args.steps):8.1f} ms/step")


if __name__ == "__main__":
    main()
