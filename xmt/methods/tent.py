"""TENT (Wang et al., ICLR 2021): minimise the entropy of the model's predictions on target batches,
training only the affine parameters (scale and shift) of its BatchNorm layers.

L = mean_i H(p_t(x_i)). Everything else is the shared adaptation loop: batch statistics in train mode
(which also move the running statistics to the target modality, as AdaBN does), SHOT's optimiser and
schedule. [design] The backbone's BatchNorm layers train at lr x backbone-lr-mult and the bottleneck's
at lr, as the other methods' layers do; TENT's own recipe (Adam 1e-3 or SGD 2.5e-4) is of that order.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from xmt.errors import UserError
from xmt.losses import mean_entropy
from xmt.methods.adapt import METHODS, Batch, Objective


BATCHNORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def batchnorm_affine_parameters(module: nn.Module) -> list[nn.Parameter]:
    return [p for m in module.modules() if isinstance(m, BATCHNORMS) and m.affine
            for p in (m.weight, m.bias)]


@METHODS.register("tent")
@dataclass
class TentObjective(Objective):
    name = "tent"

    def trainable(self, model, config):
        groups = [(batchnorm_affine_parameters(model.backbone), config.backbone_lr_mult),
                  (batchnorm_affine_parameters(model.bottleneck), 1.0)]
        if not any(params for params, _ in groups):
            raise UserError(f"TENT trains only the scale and shift of BatchNorm layers, and this source model "
                            f"({model.backbone_description}) has none: choose another --method")
        return groups

    def loss(self, model, batch: Batch):
        logits, _ = model(batch.x)
        entropy = mean_entropy(torch.softmax(logits.float(), dim=1))
        return entropy, {"entropy": entropy.detach()}
