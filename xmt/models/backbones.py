"""Backbones by name from one registry: each builds a module mapping (N, 3, H, W) to (N, D) features."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from xmt.errors import UserError
from xmt.registry import Registry


# where torchvision publishes the ImageNet weights named by `imagenet_file`
TORCHVISION_WEIGHTS_URL = "https://download.pytorch.org/models/"


@dataclass(frozen=True)
class BackboneSpec:
    build: Callable[..., nn.Module]  # build(**args) -> module returning (N, feature_dim)
    # the feature size from the arguments; None: read from the built module's `feature_dim`
    feature_dim: Callable[..., int] | None
    # file name torchvision uses for its ImageNet weights (looked up offline), None if there are none
    imagenet_file: str | None = None
    imagenet_sha256: str | None = None

    def __call__(self, **args) -> tuple[nn.Module, int]:
        module = self.build(**args)
        return module, (self.feature_dim(**args) if self.feature_dim else module.feature_dim)


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


def cut_last_linear(net: nn.Module) -> tuple[nn.Module, str, nn.Linear]:
    """A classifier without its last Linear (replaced by Identity, so the rest, pooling and pre-logit layers
    included, still runs): (the trunk, the Linear's state-dict prefix, the Linear)."""
    for prefix in ("fc", "classifier", "head", "heads.head"):
        parent, name = net, prefix
        if "." in prefix:
            first, name = prefix.split(".")
            parent = getattr(net, first, None)
        layer = getattr(parent, name, None)
        if isinstance(layer, nn.Sequential) and len(layer) and isinstance(layer[-1], nn.Linear):
            parent, name, layer, prefix = layer, str(len(layer) - 1), layer[-1], f"{prefix}.{len(layer) - 1}"
        if isinstance(layer, nn.Linear):
            setattr(parent, name, nn.Identity())
            return net, prefix, layer
    raise UserError(f"{type(net).__name__}: no final Linear layer found (looked for fc, classifier, head)")


def _torchvision_classifier(arch: str) -> nn.Module:
    """Any torchvision classifier by name, up to (without) its last Linear: the backbone of an imported model."""
    models = _torchvision_models()
    if arch not in models.list_models(module=models):
        raise UserError(f"torchvision has no classification model {arch!r}")
    trunk, _, last = cut_last_linear(models.get_model(arch, weights=None))
    trunk.feature_dim = last.in_features
    return trunk


def timm_package():
    """timm, an optional extra: refused with the install hint where it is absent."""
    try:
        import timm
    except ImportError:
        raise UserError("timm models need the timm package: pip install 'xmt[timm]'")
    return timm


def _timm_model(model: str) -> nn.Module:
    """A timm model by name without its classifier (timm's num_classes=0: pooled pre-logit features)."""
    timm = timm_package()
    try:
        net = timm.create_model(model, pretrained=False, num_classes=0)
    except RuntimeError as exc:  # timm's "Unknown model"
        raise UserError(f"timm cannot build {model!r} ({exc})")
    net.feature_dim = getattr(net, "head_hidden_size", None) or net.num_features
    return net


BACKBONES.register("smallcnn")(BackboneSpec(_small_cnn, lambda width=32: 8 * width))
BACKBONES.register("mobilenet_v2")(BackboneSpec(_mobilenet_v2, lambda: 1280, "mobilenet_v2-b0353104.pth",
                                                "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"))
BACKBONES.register("resnet18")(BackboneSpec(lambda: _resnet(18), lambda: 512, "resnet18-f37072fd.pth"))
BACKBONES.register("resnet34")(BackboneSpec(lambda: _resnet(34), lambda: 512, "resnet34-b627a593.pth"))
BACKBONES.register("resnet50")(BackboneSpec(lambda: _resnet(50), lambda: 2048, "resnet50-11ad3fa6.pth"))
BACKBONES.register("resnet101")(BackboneSpec(lambda: _resnet(101), lambda: 2048, "resnet101-cd907fc2.pth"))
# the backbones of imported classifiers (xmt import-source): feature size read from the built network
BACKBONES.register("torchvision")(BackboneSpec(_torchvision_classifier, None))
BACKBONES.register("timm")(BackboneSpec(_timm_model, None))


def trainable_backbones() -> tuple[str, ...]:
    """The backbones `xmt train-source --backbone` builds by name alone (not the importers' generic two)."""
    return tuple(name for name in BACKBONES.names() if BACKBONES.get(name).feature_dim is not None)


def build_backbone(name: str, **args) -> tuple[nn.Module, int]:
    try:
        return BACKBONES.create(name, **args)
    except TypeError as exc:
        raise UserError(f"backbone {name}: bad arguments {args} ({exc})")
