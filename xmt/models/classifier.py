"""The SHOT-shaped classifier: backbone F, bottleneck B (Linear + BatchNorm1d), weight-normed head C."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from xmt.models.backbones import build_backbone


class Classifier(nn.Module):
    """forward(x) -> (logits, features), features being the bottleneck output (SHOT's feature space)."""

    def __init__(self, backbone: str, num_classes: int, bottleneck_dim: int = 256, backbone_args: dict | None = None):
        super().__init__()
        self.backbone_name = backbone
        self.backbone_args = dict(backbone_args or {})
        self.num_classes = num_classes
        self.bottleneck_dim = bottleneck_dim
        self.backbone, feature_dim = build_backbone(backbone, **self.backbone_args)
        self.bottleneck = nn.Sequential(nn.Linear(feature_dim, bottleneck_dim), nn.BatchNorm1d(bottleneck_dim))
        self.head = weight_norm(nn.Linear(bottleneck_dim, num_classes))
        self._init_new_layers()

    def _init_new_layers(self) -> None:
        # SHOT's initialisation of the layers it adds on top of the backbone.
        for module in (*self.bottleneck, self.head):
            if isinstance(module, nn.Linear):
                nn.init.xavier_normal_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm1d):
                nn.init.normal_(module.weight, 1.0, 0.02)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.bottleneck(self.backbone(x))
        return self.head(features), features

    def arch(self) -> dict:
        return {"backbone": self.backbone_name, "backbone_args": self.backbone_args,
                "num_classes": self.num_classes, "bottleneck_dim": self.bottleneck_dim}

    @classmethod
    def from_arch(cls, arch: dict) -> "Classifier":
        return cls(arch["backbone"], arch["num_classes"], arch.get("bottleneck_dim", 256), arch.get("backbone_args"))

    def feature_extractor_parameters(self) -> list[nn.Parameter]:
        return list(self.backbone.parameters()) + list(self.bottleneck.parameters())
