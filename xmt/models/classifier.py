"""The SHOT-shaped classifier: backbone F, bottleneck B, head C; forward(x) -> (logits, features).

Trained by `xmt train-source`, it is SHOT's: B = Linear + BatchNorm1d, C = weight-normed Linear. Imported
models keep their own shape (`xmt import-source`): SHOT's bottleneck without its BatchNorm (`linear`), or
none at all (a torchvision or timm classifier: F is everything before its last Linear, which is C).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from xmt.models.backbones import build_backbone

BOTTLENECKS = ("bn", "linear", "none")
HEADS = ("wn", "linear")


class Classifier(nn.Module):
    """forward(x) -> (logits, features), features being the bottleneck output (SHOT's feature space)."""

    def __init__(self, backbone: str, num_classes: int, bottleneck_dim: int = 256, backbone_args: dict | None = None,
                 bottleneck: str = "bn", head: str = "wn"):
        super().__init__()
        if bottleneck not in BOTTLENECKS or head not in HEADS:
            raise ValueError(f"bottleneck {bottleneck!r} / head {head!r}: expected one of {BOTTLENECKS} / {HEADS}")
        self.backbone_name = backbone
        self.backbone_args = dict(backbone_args or {})
        self.num_classes = num_classes
        self.bottleneck_kind, self.head_kind = bottleneck, head
        self.backbone, feature_dim = build_backbone(backbone, **self.backbone_args)
        if bottleneck == "none":
            bottleneck_dim = feature_dim
            self.bottleneck = nn.Identity()
        else:
            layers = [nn.Linear(feature_dim, bottleneck_dim)]
            self.bottleneck = nn.Sequential(*layers, *([nn.BatchNorm1d(bottleneck_dim)] if bottleneck == "bn" else []))
        self.bottleneck_dim = bottleneck_dim
        linear = nn.Linear(bottleneck_dim, num_classes)
        self.head = weight_norm(linear) if head == "wn" else linear
        self._init_new_layers()

    def _init_new_layers(self) -> None:
        # SHOT's initialisation of the layers it adds on top of the backbone.
        for module in (*self.bottleneck.modules(), self.head):
            if isinstance(module, nn.Linear):
                nn.init.xavier_normal_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm1d):
                nn.init.normal_(module.weight, 1.0, 0.02)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.bottleneck(self.backbone(x))
        return self.head(features), features

    @property
    def backbone_description(self) -> str:
        """For messages: "resnet50", "torchvision:convnext_tiny", "timm:vit_small_patch16_224"."""
        name = self.backbone_args.get("arch") or self.backbone_args.get("model")
        return f"{self.backbone_name}:{name}" if name else self.backbone_name

    def arch(self) -> dict:
        return {"backbone": self.backbone_name, "backbone_args": self.backbone_args,
                "num_classes": self.num_classes, "bottleneck_dim": self.bottleneck_dim,
                "bottleneck": self.bottleneck_kind, "head": self.head_kind}

    @classmethod
    def from_arch(cls, arch: dict) -> "Classifier":
        # checkpoints written before imports existed have no "bottleneck"/"head": SHOT's shape
        return cls(arch["backbone"], arch["num_classes"], arch.get("bottleneck_dim", 256), arch.get("backbone_args"),
                   arch.get("bottleneck", "bn"), arch.get("head", "wn"))

    def feature_extractor_parameters(self) -> list[nn.Parameter]:
        return list(self.backbone.parameters()) + list(self.bottleneck.parameters())
