"""Backbones by name from one registry: each builds a module mapping (N, 3, H, W) to (N, D) features."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from xmt.errors import UserError
from xmt.registry import Registry


@dataclass(frozen=True)
class BackboneSpec:
    build: Callable[..., nn.Module]  # build(**args) -> module returning (N, feature_dim)
    feature_dim: Callable[..., int]
    # file name torchvision uses for its ImageNet weights (looked up offline), None if there are none
    imagenet_file: str | None = None
    imagenet_sha256: str | None = None

    def __call__(self, **args) -> tuple[nn.Module, int]:
        return self.build(**args), self.feature_dim(**args)


BACKBONES: Registry[BackboneSpec] = Registry("backbone")
get_backbone_spec = BACKBONES.get  # the name `xmt train-source` checks its --backbone with


class Pooled(nn.Module):
    """A convolutional trunk followed by global average pooling."""

    def __init__(self, trunk: nn.Module):
        super().__init__()
        self.trunk = trunk

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(nn.functional.adaptive_avg_pool2d(self.trunk(x), 1), 1)


def _small_cnn(width: int = 32) -> nn.Module:
    """Four conv-BN-ReLU blocks, each halving resolution: a fast backbone for tests and CPU runs."""
    layers: list[nn.Module] = []
    channels = [3, width, 2 * width, 4 * width, 8 * width]
    for c_in, c_out in zip(channels, channels[1:]):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                   nn.ReLU(inplace=True), nn.MaxPool2d(2)]
    return Pooled(nn.Sequential(*layers))


def _torchvision_models():
    # imported on use: torchvision's import costs about 1.7 s, paid by every CLI call otherwise
    from torchvision import models

    return models


def _mobilenet_v2() -> nn.Module:
    return Pooled(_torchvision_models().mobilenet_v2(weights=None).features)


def _resnet(depth: int) -> nn.Module:
    net = getattr(_torchvision_models(), f"resnet{depth}")(weights=None)
    net.fc = nn.Identity()
    return net


BACKBONES.register("smallcnn")(BackboneSpec(_small_cnn, lambda width=32: 8 * width))
BACKBONES.register("mobilenet_v2")(BackboneSpec(_mobilenet_v2, lambda: 1280, "mobilenet_v2-b0353104.pth",
                                                "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"))
BACKBONES.register("resnet18")(BackboneSpec(lambda: _resnet(18), lambda: 512, "resnet18-f37072fd.pth"))
BACKBONES.register("resnet50")(BackboneSpec(lambda: _resnet(50), lambda: 2048, "resnet50-11ad3fa6.pth"))


def build_backbone(name: str, **args) -> tuple[nn.Module, int]:
    try:
        return BACKBONES.create(name, **args)
    except TypeError as exc:
        raise UserError(f"backbone {name}: bad arguments {args} ({exc})")
