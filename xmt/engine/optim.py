"""SHOT's optimiser recipe, shared by every training procedure."""

from __future__ import annotations

from typing import Iterable

import torch


def sgd_param_groups(groups: Iterable[tuple[Iterable[torch.nn.Parameter], float]], lr: float) -> list[dict]:
    """[(params, lr multiplier)] -> SGD param groups; frozen parameters are left out."""
    out = []
    for params, multiplier in groups:
        trainable = [p for p in params if p.requires_grad]
        if trainable and multiplier > 0:
            out.append({"params": trainable, "lr": lr * multiplier})
    return out


def shot_sgd(param_groups: list[dict], momentum: float = 0.9, weight_decay: float = 1e-3) -> torch.optim.SGD:
    """SGD with Nesterov momentum 0.9 and weight decay 1e-3, as SHOT and SOCKET train."""
    return torch.optim.SGD(param_groups, momentum=momentum, weight_decay=weight_decay, nesterov=True)


def shot_schedule(optimizer: torch.optim.Optimizer, total_steps: int, gamma: float = 10.0, power: float = 0.75):
    """lr_t = lr_0 * (1 + gamma * t / T) ** -power, stepped once per iteration."""
    total = max(1, total_steps)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: (1 + gamma * t / total) ** -power)
