"""Classifiers trained elsewhere, as xmt classifiers: the SHOT family's three files, torchvision and timm.

Each importer returns the xmt `Classifier` and, beside it, the original network rebuilt from its own
published definition with the user's weights loaded as they are; `logit_difference` runs both on the same
inputs, so an import is checked, not assumed. Where the original has a BatchNorm'd bottleneck and a
weight-normed head (SHOT's), the xmt model has them too; a torchvision or timm classifier keeps its own
shape: everything before its last Linear is the backbone, that Linear is the head, and there is no
bottleneck.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from xmt.errors import UserError
from xmt.models.backbones import cut_last_linear, timm_package
from xmt.models.classifier import Classifier
from xmt.models.pretrained import read_state_dict

# (blocks in layer1..4, bottleneck blocks?) -> ResNet depth, as torchvision builds them
RESNET_DEPTHS = {((2, 2, 2, 2), False): 18, ((3, 4, 6, 3), False): 34, ((3, 4, 6, 3), True): 50,
                 ((3, 4, 23, 3), True): 101}
SHOT_FILES = ("source_F.pt", "source_B.pt", "source_C.pt")
SHOT_BOTTLENECKS = ("bn", "ori")  # SHOT's --classifier: its bottleneck's BatchNorm applied, or not


@dataclass
class Imported:
    model: Classifier  # the xmt classifier, weights loaded, in eval mode
    reference: nn.Module  # the original network with the same weights; forward(x) -> logits
    architecture: str  # for messages and metadata: "resnet50 (SHOT family, bn bottleneck)", ...
    files: dict[str, Path] = field(default_factory=dict)  # role -> file read


def fit_state(module: nn.Module, state: dict[str, torch.Tensor], path: Path, what: str) -> None:
    """load_state_dict(strict), a mismatch named by its first missing, unexpected or mis-shaped key."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        if wrong:
            k = wrong[0]
            first = f"{k} has shape {tuple(state[k].shape)}, {what} needs {tuple(expected[k].shape)}"
        elif missing:
            first = f"missing {missing[0]} {tuple(expected[missing[0]].shape)}"
        else:
            first = f"unexpected {unexpected[0]} {tuple(state[unexpected[0]].shape)}"
        counts = f"{len(missing)} missing, {len(unexpected)} unexpected, {len(wrong)} mis-shaped tensors"
        raise UserError(f"does not fit {what}: {first} ({counts})", path=path)
    module.load_state_dict(state)


def _torchvision():
    from torchvision import models

    return models


# ---- the SHOT family (SHOT, SOCKET, NRC, AaD...): source_F.pt, source_B.pt, source_C.pt ---------------------

class ShotResBase(nn.Module):
    """SHOT's ResBase: a torchvision ResNet's layers up to its average pool, flattened."""

    def __init__(self, depth: int):
        super().__init__()
        net = getattr(_torchvision(), f"resnet{depth}")(weights=None)
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        self.avgpool = net.avgpool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.avgpool(x).view(x.size(0), -1)


class ShotBottleneck(nn.Module):
    """SHOT's feat_bootleneck: Linear, then BatchNorm1d when its type is "bn" (the BN exists either way)."""

    def __init__(self, feature_dim: int, bottleneck_dim: int, kind: str):
        super().__init__()
        self.bn = nn.BatchNorm1d(bottleneck_dim, affine=True)
        self.bottleneck = nn.Linear(feature_dim, bottleneck_dim)
        self.kind = kind

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bottleneck(x)
        return self.bn(x) if self.kind == "bn" else x


class ShotHead(nn.Module):
    """SHOT's feat_classifier: a Linear, weight-normed with the original API (fc.weight_g, fc.weight_v) for "wn"."""

    def __init__(self, bottleneck_dim: int, num_classes: int, weight_normed: bool):
        super().__init__()
        self.fc = nn.Linear(bottleneck_dim, num_classes)
        if weight_normed:
            with warnings.catch_warnings():  # the original API is deprecated, and exactly what SHOT saved
                warnings.simplefilter("ignore")
                self.fc = torch.nn.utils.weight_norm(self.fc, name="weight")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


def resnet_depth(state: dict[str, torch.Tensor], path: Path) -> int:
    """The torchvision ResNet whose trunk these keys are, from its block counts and block type."""
    blocks = [len({m.group(1) for k in state if (m := re.match(rf"layer{i}\.(\d+)\.", k))}) for i in range(1, 5)]
    if "conv1.weight" not in state or not all(blocks):
        first = next(iter(state))
        raise UserError(f"not a ResNet trunk (SHOT's netF): expected conv1.*, bn1.* and layer1-4.* keys, found "
                        f"{first} {tuple(state[first].shape)} first", path=path)
    bottleneck_blocks = "layer1.0.conv3.weight" in state
    depth = RESNET_DEPTHS.get((tuple(blocks), bottleneck_blocks))
    if depth is None:
        raise UserError(f"a ResNet trunk of {blocks} {'bottleneck' if bottleneck_blocks else 'basic'} blocks per "
                        f"stage is none of ResNet-{', '.join(str(d) for d in sorted(set(RESNET_DEPTHS.values())))}",
                        path=path)
    return depth


def _need(state: dict, key: str, path: Path, what: str) -> torch.Tensor:
    if key not in state:
        raise UserError(f"not {what}: it has no {key} (keys: {', '.join(list(state)[:4])}...)", path=path)
    return state[key]


def import_shot_family(folder: Path, bottleneck: str = "bn") -> Imported:
    """SHOT's netF (ResNet trunk), netB (bottleneck) and netC (classifier), as SHOT and its successors save them."""
    if bottleneck not in SHOT_BOTTLENECKS:
        raise UserError(f"--bottleneck-type {bottleneck!r}: expected one of {', '.join(SHOT_BOTTLENECKS)}")
    if not folder.is_dir():
        raise UserError("no such folder (expected one holding source_F.pt, source_B.pt and source_C.pt)", path=folder)
    paths = dict(zip("FBC", (folder / name for name in SHOT_FILES)))
    absent = [p.name for p in paths.values() if not p.is_file()]
    if absent:
        raise UserError(f"no {', '.join(absent)}: a SHOT-family checkpoint is the three files "
                        f"{', '.join(SHOT_FILES)}", path=folder)
    f_state, b_state, c_state = (read_state_dict(paths[k]) for k in "FBC")
    depth = resnet_depth(f_state, paths["F"])
    linear = _need(b_state, "bottleneck.weight", paths["B"], "SHOT's bottleneck (netB)")
    weight_normed = "fc.weight_v" in c_state
    head_key = "fc.weight_v" if weight_normed else "fc.weight"
    head_weight = _need(c_state, head_key, paths["C"], "SHOT's classifier (netC)")
    bottleneck_dim, feature_dim = linear.shape
    num_classes = head_weight.shape[0]

    netF, netB = ShotResBase(depth), ShotBottleneck(feature_dim, bottleneck_dim, bottleneck)
    netC = ShotHead(bottleneck_dim, num_classes, weight_normed)
    fit_state(netF, f_state, paths["F"], f"SHOT's ResNet-{depth} trunk")
    fit_state(netB, b_state, paths["B"], f"SHOT's bottleneck ({feature_dim} -> {bottleneck_dim})")
    fit_state(netC, c_state, paths["C"], f"SHOT's classifier ({bottleneck_dim} -> {num_classes})")

    model = Classifier(f"resnet{depth}", num_classes, bottleneck_dim, head="wn" if weight_normed else "linear",
                       bottleneck="bn" if bottleneck == "bn" else "linear")
    tensors = {f"backbone.{k}": v for k, v in f_state.items()}
    tensors.update({f"bottleneck.0.{k}": b_state[f"bottleneck.{k}"] for k in ("weight", "bias")})
    if bottleneck == "bn":  # with "ori" SHOT never applies its BN: its statistics are unused, and left out
        tensors.update({f"bottleneck.1.{k.removeprefix('bn.')}": v for k, v in b_state.items() if k.startswith("bn.")})
    head_names = ({"fc.weight_g": "head.parametrizations.weight.original0",
                   "fc.weight_v": "head.parametrizations.weight.original1"} if weight_normed
                  else {"fc.weight": "head.weight"})
    tensors.update({new: c_state[old] for old, new in head_names.items()})
    tensors["head.bias"] = c_state["fc.bias"]
    fit_state(model, tensors, folder, f"xmt's resnet{depth} classifier")
    reference = nn.Sequential(netF, netB, netC)
    head = "weight-normed" if weight_normed else "plain"
    architecture = f"resnet{depth} (SHOT family, {bottleneck} bottleneck, {head} head)"
    return Imported(model.eval(), reference.eval(), architecture, paths)


# ---- torchvision and timm classifiers: one state dict, the architecture named by the user ------------------

TORCHVISION_ARCHITECTURES = ("resnet18", "resnet34", "resnet50", "resnet101", "mobilenet_v2", "mobilenet_v3_large",
                             "efficientnet_b0", "convnext_tiny")  # tested; any torchvision classifier may work


def _split_head(state: dict[str, torch.Tensor], prefix: str, path: Path, what: str) -> tuple[dict, int]:
    """The xmt classifier's tensors (the last Linear as head, the rest as backbone) and its class count."""
    num_classes = _need(state, f"{prefix}.weight", path, f"a {what} state dict").shape[0]
    tensors = {(f"head.{k.removeprefix(prefix + '.')}" if k.startswith(prefix + ".") else f"backbone.{k}"): v
               for k, v in state.items()}
    return tensors, num_classes


def _import_headed(library: str, name: str, weights: Path, state: dict[str, torch.Tensor], prefix: str,
                   build: Callable[[int], nn.Module], backbone_args: dict) -> Imported:
    """A classifier whose last Linear (at `prefix`) is its head; `build(num_classes)` makes the original."""
    tensors, num_classes = _split_head(state, prefix, weights, f"{library} {name}")
    reference = build(num_classes)
    fit_state(reference, state, weights, f"{library}'s {name} of {num_classes} classes")
    model = Classifier(library, num_classes, backbone_args=backbone_args, bottleneck="none", head="linear")
    fit_state(model, tensors, weights, f"xmt's {name} classifier")
    return Imported(model.eval(), reference.eval(), f"{name} ({library})", {"weights": weights})


def import_torchvision(arch: str, weights: Path) -> Imported:
    models = _torchvision()
    if arch not in models.list_models(module=models):
        raise UserError(f"--arch torchvision:{arch}: torchvision has no such classification model (e.g. "
                        f"{', '.join(TORCHVISION_ARCHITECTURES)})")
    state = read_state_dict(weights)
    _, prefix, _ = cut_last_linear(models.get_model(arch, weights=None))
    return _import_headed("torchvision", arch, weights, state, prefix,
                          lambda k: models.get_model(arch, weights=None, num_classes=k), {"arch": arch})


def import_timm(name: str, weights: Path) -> Imported:
    timm = timm_package()
    state = read_state_dict(weights)
    try:
        probe = timm.create_model(name, pretrained=False)
    except RuntimeError as exc:
        raise UserError(f"--arch timm:{name}: timm cannot build it ({exc})")
    prefix = probe.pretrained_cfg.get("classifier", "fc")
    if not isinstance(prefix, str):
        raise UserError(f"--arch timm:{name}: a model with several classifiers ({prefix}) is not supported")
    return _import_headed("timm", name, weights, state, prefix,
                          lambda k: timm.create_model(name, pretrained=False, num_classes=k), {"model": name})


# ---- fidelity ----------------------------------------------------------------------------------------------

@dataclass
class Fidelity:
    max_abs_difference: float  # largest |logit difference| over the probe inputs
    logit_scale: float  # largest |logit| of the original
    inputs: int

    @property
    def tolerance(self) -> float:
        # float32 round-off of the same computation in another order (pooling, weight norm): relative 1e-5
        return 1e-5 * max(1.0, self.logit_scale)

    @property
    def equal(self) -> bool:
        return self.max_abs_difference <= self.tolerance


def logit_difference(imported: Imported, size: int, inputs: int = 4, seed: int = 0) -> Fidelity:
    """Both networks, in eval mode and float32 on the CPU, on the same normal-noise inputs at `size`."""
    x = torch.randn(inputs, 3, size, size, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        expected = imported.reference.eval().float()(x)
        got, _ = imported.model.eval().float()(x)
    return Fidelity(float((expected - got).abs().max()), float(expected.abs().max()), inputs)
