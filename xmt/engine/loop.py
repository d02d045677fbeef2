"""The one training loop every method runs: epochs of steps, checks, progress and per-epoch logs.

A method supplies `step(epoch, i) -> (loss, terms)`; the loop does the backward pass, the
optimiser and schedule steps, checks every loss term for NaN/inf, and logs epoch means.
Precision (autocast + grad scaling) lives here so methods need not change to use it; a
distributed wrapper would go here too.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from typing import Callable

import torch

from xmt.engine.console import progress_bar
from xmt.engine.device import autocast
from xmt.engine.jsonlog import EpochLog
from xmt.errors import RunFailure

Terms = dict[str, torch.Tensor]
StepFn = Callable[[int, int], tuple[torch.Tensor, Terms]]


class NonFiniteLoss(RunFailure):
    pass


class Trainer:
    def __init__(self, device: torch.device, precision: str = "fp32", log: EpochLog | None = None):
        self.device = device
        self.precision = precision
        self.log = log or EpochLog("train")
        self.scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
        autocast(device, precision)  # validates the combination early

    def autocast(self):
        return autocast(self.device, self.precision)

    def backward_step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(optimizer)
        self.scaler.update()

    @staticmethod
    def check_finite(terms: Terms, epoch: int, step: int) -> None:
        values = torch.stack([t.detach().float().reshape(()) for t in terms.values()])
        if not bool(torch.isfinite(values).all()):
            detail = ", ".join(
                f"{name} = {v:g}" for name, v in zip(terms, values.tolist()) if not math.isfinite(v)
            )
            raise NonFiniteLoss(f"non-finite loss at epoch {epoch + 1}, step {step + 1}: {detail}")

    def fit(
        self,
        *,
        epochs: int,
        steps_per_epoch: int,
        step: StepFn,
        optimizer: torch.optim.Optimizer,
        scheduler=None,
        on_epoch_start: Callable[[int], dict | None] | None = None,
        on_epoch_end: Callable[[int], dict | None] | None = None,
        description: str = "training",
    ) -> list[dict]:
        with progress_bar(description, epochs * steps_per_epoch) as bar:
            for epoch in range(epochs):
                started = time.perf_counter()
                record: dict = {"epoch": epoch + 1}
                record.update((on_epoch_start(epoch) if on_epoch_start else None) or {})
                sums: dict[str, float] = defaultdict(float)
                for i in range(steps_per_epoch):
                    loss, terms = step(epoch, i)
                    terms = {"loss": loss.detach(), **terms}
                    self.check_finite(terms, epoch, i)
                    self.backward_step(loss, optimizer)
                    if scheduler is not None:
                        scheduler.step()
                    for name, value in terms.items():
                        sums[name] += float(value)
                    bar.advance()
                    bar.note(f"loss {float(terms['loss']):.3f}")
                record.update({name: total / max(1, steps_per_epoch) for name, total in sums.items()})
                record["lr"] = max(group["lr"] for group in optimizer.param_groups)
                record.update((on_epoch_end(epoch) if on_epoch_end else None) or {})
                record["seconds"] = round(time.perf_counter() - started, 3)
                self.log.write(record)
        return self.log.records
