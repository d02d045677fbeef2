"""Collecting the batch statistics of the inputs of a network's BatchNorm2d layers during a forward pass.

Used by SOCKET's L_BN (target batches against the source model's running statistics) and by the
bridge's optional L_bn (translated images inside the frozen source model).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

from xmt.losses import batchnorm_input_statistics


def batchnorm_layers(model: nn.Module) -> list[nn.BatchNorm2d]:
    return [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]


def running_statistics(model: nn.Module) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """(running means, running vars) of every BatchNorm2d layer, detached copies, in module order."""
    layers = batchnorm_layers(model)
    return [m.running_mean.detach().clone() for m in layers], [m.running_var.detach().clone() for m in layers]


class BatchNormInputs:
    """Per-layer (mean, biased var) of the inputs seen by each BatchNorm2d in the last forward pass."""

    def __init__(self) -> None:
        self.means: list[torch.Tensor] = []
        self.vars: list[torch.Tensor] = []


@contextmanager
def record_batchnorm_inputs(model: nn.Module) -> Iterator[BatchNormInputs]:
    """Within the block, every forward pass of `model` records its BatchNorm2d input statistics."""
    record = BatchNormInputs()

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        mean, var = batchnorm_input_statistics(inputs[0].float())
        record.means.append(mean)
        record.vars.append(var)

    handles = [layer.register_forward_pre_hook(hook) for layer in batchnorm_layers(model)]
    try:
        yield record
    finally:
        for handle in handles:
            handle.remove()


def evenly_spaced(layers: list, count: int) -> list:
    """`count` of `layers` spread from the first to the last (all of them when there are fewer; none for 0)."""
    if count >= len(layers):
        return list(layers)
    if count == 1:
        return [layers[-1]]
    return [layers[round(i * (len(layers) - 1) / (count - 1))] for i in range(count)]


@contextmanager
def record_feature_maps(model: nn.Module, count: int) -> Iterator[list[torch.Tensor]]:
    """Within the block, each forward pass of `model` appends the outputs of `count` of its BatchNorm2d layers,
    spread from the first to the last: feature maps of several depths, each already on the scale its running
    statistics give (about unit variance), so that no layer dominates a sum of their distances."""
    maps: list[torch.Tensor] = []
    layers = evenly_spaced(batchnorm_layers(model), count)
    handles = [layer.register_forward_hook(lambda module, inputs, output: maps.append(output)) for layer in layers]
    try:
        yield maps
    finally:
        for handle in handles:
            handle.remove()
