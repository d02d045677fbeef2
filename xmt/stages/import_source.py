"""`xmt import-source` from files to files: a classifier trained elsewhere in, a source-model checkpoint out.

The original network is rebuilt beside the xmt model and both are run on the same inputs: the checkpoint is
written only when their logits agree (exit 1 otherwise, naming the difference). Optionally the imported model
is scored on a few labelled RGB images the user still has (`--check`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from xmt.artifacts import save_model
from xmt.data.batches import load_native
from xmt.data.encoding import IMAGENET_MEAN, IMAGENET_STD, RESIZE_POLICIES, EncodingRecipe
from xmt.data.sets.readers import open_image_set
from xmt.engine.hashing import sha256_file
from xmt.engine.output_kinds import checkpoint_of
from xmt.engine.outputs import Output, claim_outputs
from xmt.errors import RunFailure, UserError
from xmt.methods.inference import score
from xmt.models.imported import (SHOT_BOTTLENECKS, SHOT_FILES, Imported, import_shot_family, import_timm,
                                 import_torchvision, logit_difference)
from xmt.stages.inputs import check_size, read_classes

FORMATS = ("shot", "torchvision", "timm")


@dataclass
class ImportSource:
    """What to import: `format` names the kind of file(s); `model` is the SHOT folder, or the weights file."""

    format: str
    model: Path
    architecture: str | None = None  # torchvision / timm model name
    bottleneck: str = "bn"  # SHOT family: is the bottleneck's BatchNorm applied (bn) or not (ori)

    @classmethod
    def from_arch(cls, arch: str | None, model: Path, bottleneck: str = "bn") -> "ImportSource":
        """From --arch: shot, torchvision:NAME or timm:NAME; a folder is SHOT's unless told."""
        if arch is None:
            if model.is_dir():
                return cls("shot", model, None, bottleneck)
            raise UserError("--arch is needed for a weights file: torchvision:NAME (e.g. torchvision:resnet50) or "
                            "timm:NAME; a SHOT-family checkpoint is given as its folder", path=model)
        kind, _, name = arch.partition(":")
        if (kind == "shot" and not name) or (kind in ("torchvision", "timm") and name):
            return cls(kind, model, name or None, bottleneck)
        raise UserError(f"--arch {arch}: expected shot, torchvision:NAME or timm:NAME")


@dataclass
class ImportOutputs:
    checkpoint: Path
    architecture: str
    classes: int
    max_logit_difference: float
    check_accuracy: float | None


def imagenet_class_names() -> list[str]:
    """torchvision's 1000 ImageNet class names (unique: "crane bird" beside "crane")."""
    from torchvision.models import MobileNet_V2_Weights

    return list(MobileNet_V2_Weights.IMAGENET1K_V1.meta["categories"])


def _import(source: ImportSource) -> Imported:
    if source.format == "shot":
        return import_shot_family(source.model, source.bottleneck)
    if source.format == "torchvision":
        return import_torchvision(source.architecture, source.model)
    if source.format == "timm":
        return import_timm(source.architecture, source.model)
    raise UserError(f"import format {source.format!r}: expected one of {', '.join(FORMATS)}")


def import_recipe(size: int, mean: tuple[float, ...], std: tuple[float, ...], resize: str) -> EncodingRecipe:
    if resize not in RESIZE_POLICIES:
        raise UserError(f"--resize {resize}: expected one of {', '.join(RESIZE_POLICIES)}")
    if len(mean) != 3 or len(std) != 3 or not all(map(math.isfinite, (*mean, *std))) or min(std) <= 0:
        raise UserError(f"--mean {list(mean)} --std {list(std)}: expected three finite values each, std above 0")
    return EncodingRecipe("rgb", size=size, bit_depth=8, resize=resize, channels="rgb",
                          mean=tuple(map(float, mean)), std=tuple(map(float, std)))


def _check_classes(names: list[str], imported: Imported, where: Path | None) -> None:
    if len(names) != imported.model.num_classes:
        raise UserError(f"names {len(names)} classes but the model's head ({imported.architecture}) has "
                        f"{imported.model.num_classes} outputs", path=where)


def run_import_source(*, source: ImportSource, out: Path, classes_file: Path | None = None,
                      imagenet_classes: bool = False, size: int = 224, mean: tuple[float, ...] = IMAGENET_MEAN,
                      std: tuple[float, ...] = IMAGENET_STD, resize: str | None = None, check: Path | None = None,
                      device: torch.device | None = None, force: bool = False,
                      cli_options: dict | None = None) -> ImportOutputs:
    if (classes_file is None) == (not imagenet_classes):
        raise UserError("name the classes: --classes FILE (one name a line, line i naming output i) or "
                        "--imagenet-classes")
    recipe = import_recipe(size, mean, std, resize or ("shot-test" if source.format == "shot" else "torchvision-eval"))
    names = imagenet_class_names() if imagenet_classes else read_classes(classes_file)
    with claim_outputs([Output(out, checkpoint_of("source-model"))], inputs=[source.model, classes_file, check],
                       force=force) as claim:
        imported = _import(source)
        _check_classes(names, imported, classes_file)
        fidelity = logit_difference(imported, size)
        if not fidelity.equal:
            raise RunFailure(f"the imported model's logits differ from the original's by up to "
                             f"{fidelity.max_abs_difference:.3g} (tolerance {fidelity.tolerance:.3g}, logits up to "
                             f"{fidelity.logit_scale:.3g}); nothing was written")
        accuracy = None if check is None else _score_check(imported, recipe, names, check, device)
        files = {role: {"path": str(path), "sha256": sha256_file(path)} for role, path in imported.files.items()}
        if classes_file is not None:
            files["classes"] = {"path": str(classes_file), "sha256": sha256_file(classes_file)}
        record = {"format": source.format, "architecture": imported.architecture,
                  "max_logit_difference": fidelity.max_abs_difference, "fidelity_inputs": fidelity.inputs,
                  "check": None if check is None else {"data": str(check), "accuracy": accuracy}}
        save_model(claim.temporary(out), imported.model, kind="source-model", classes=names, recipe=recipe,
                   config={"cli": cli_options or {}}, provenance={"inputs": files},
                   extra={"imported": record})
    return ImportOutputs(out, imported.architecture, len(names), fidelity.max_abs_difference, accuracy)


def _score_check(imported: Imported, recipe: EncodingRecipe, names: list[str], data: Path,
                 device: torch.device | None) -> float:
    """Accuracy of the imported model on labelled RGB images (DIR/<class>/<file>, a list or a pack)."""
    images = open_image_set(data, "rgb")
    check_size(images, recipe.size)
    labels = images.labels_for(names)
    native = load_native(images, recipe)
    device = device or torch.device("cpu")
    return score(imported.model.to(device), recipe, native, labels, names, device)["accuracy"]
