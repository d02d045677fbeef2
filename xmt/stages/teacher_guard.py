"""The other predictors `transfer --guard-with` names, read on the TR images for TGKT's teacher guard.

Each is a target-model checkpoint (a model trained on these TR images without the teacher, e.g. SOCKET's)
or a translated pack of these TR images from another bridge; both give one class per TR image. No label
is read.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from xmt.data.batches import NativeImages, open_native
from xmt.data.encoding import EncodingRecipe
from xmt.data.packs.reader import read_pack_header
from xmt.data.sets.image_set import ImageSet
from xmt.engine.console import info, warn
from xmt.engine.formats import sniff
from xmt.engine.hashing import sha256_file
from xmt.errors import UserError
from xmt.methods.inference import predict
from xmt.methods.teacher import GuardDecision, guard_weight, holdout_teacher_accuracy
from xmt.methods.objective import Objective, applies_only_to, methods_declaring
from xmt.artifacts import LoadedModel, load_model
from xmt.stages.translate import HOLDOUT_CHECK
from xmt.stages.translations import check_translations


def _decoded_alike(a: EncodingRecipe, b: EncodingRecipe) -> bool:
    """Whether two recipes decode images the same way (they may normalise differently)."""
    return replace(a, mean=b.mean, std=b.std) == b


def _model_labels(path: Path, source: LoadedModel, tr_set: ImageSet, native: NativeImages, recipe: EncodingRecipe,
                  device: torch.device, workers: int) -> np.ndarray:
    other = load_model(path, kinds=("target-model",))
    if other.classes != source.classes:
        raise UserError(f"classifies other classes than the source model {source.path}", path=path)
    if other.recipe.modality != recipe.modality or other.recipe.size != recipe.size:
        raise UserError(f"reads {other.recipe.modality} at {other.recipe.size}x{other.recipe.size}; the TR images "
                        f"are {recipe.modality} at {recipe.size}x{recipe.size}", path=path)
    images = native if _decoded_alike(other.recipe, recipe) else open_native(tr_set, other.recipe, workers, False)
    probs, _ = predict(other.model.to(device), other.recipe, images, device)
    return probs.argmax(1).numpy()


def guard_predictions(paths: list[Path], source: LoadedModel, tr_set: ImageSet, native: NativeImages,
                      recipe: EncodingRecipe, device: torch.device, workers: int = 0) -> list[np.ndarray]:
    """One (N_tr,) array of classes per path, in the order given."""
    labels = []
    for path in paths:
        kind = sniff(path)
        if kind == "hdf5":
            # the same source model reads these translations and the teacher's: their mistakes are shared, which
            # the agreement model reads as accuracy (results.md: it once put a teacher at chance at 100%)
            warn(f"{path}: another bridge's translations share the teacher's mistakes (the same source model reads "
                 "both), so the guard can over-estimate the teacher; target models trained without it are safer")
            labels.append(check_translations(path, source, tr_set).argmax(1).numpy())
        elif kind == "safetensors":
            labels.append(_model_labels(path, source, tr_set, native, recipe, device, workers))
        else:
            raise UserError("--guard-with takes target models (.safetensors from xmt transfer) or translated "
                            "packs (.h5 from xmt bridge)", path=path)
    return labels


def check_guardable(objective: Objective | None) -> None:
    """--guard-with scales a teacher's distillation: refused for a method without one, or with it switched off."""
    if objective is None or not objective.guardable:
        raise UserError(applies_only_to("--guard-with", methods_declaring("guardable")))
    if not objective.uses_translations:
        raise UserError(f"--guard-with guards {objective.name}'s distillation of the teacher, which "
                        f"{objective.translations_off} switches off")


def source_accuracy(meta: dict) -> tuple[float, str]:
    """The source model's accuracy on RGB as its checkpoint's metadata records it (train-source's validation
    split, or import-source --check), and where it came from; 1.0, an upper bound, when it records none."""
    imported_check = (meta.get("imported") or {}).get("check") or {}
    for value, origin in ((meta.get("val_accuracy"), "its validation split"),
                          (imported_check.get("accuracy"), "import-source --check")):
        if value is not None:
            return float(value), origin
    return 1.0, "none recorded: 100% assumed"


def holdout_estimate(translated: Path, source: LoadedModel) -> float | None:
    """The teacher's accuracy estimated from its translator's held-out TI pairs, as the translated pack records
    them (None for a pack whose bridge held none out, or one made before they were recorded)."""
    made_by = read_pack_header(translated)["provenance"].get("inputs", {}).get("translator", {})
    check = made_by.get(HOLDOUT_CHECK) or {}
    if "source_kappa" not in check:
        warn(f"{translated}: no held-out TI figures recorded (its bridge held no TI pair out, or predates them): "
             "the guard estimates every predictor from their joint agreement, which over-estimates predictors "
             "that share their mistakes")
        return None
    accuracy, origin = source_accuracy(source.meta)
    estimate = holdout_teacher_accuracy(check["source_kappa"], accuracy, len(source.classes))
    info(f"teacher guard: on {check['pairs']} held-out TI pairs the translations keep the source model's reading "
         f"of the RGB {check['source_agreement']:.1%} of the time (kappa {check['source_kappa']:.2f}); with the "
         f"source model's RGB accuracy {accuracy:.1%} ({origin}) the teacher is estimated at {estimate:.1%}")
    return estimate


def guard_teacher(paths: list[Path], objective: Objective, teacher: torch.Tensor, translated: Path,
                  source: LoadedModel, tr_set: ImageSet, native: NativeImages, recipe: EncodingRecipe,
                  device: torch.device, workers: int = 0) -> tuple[Objective, GuardDecision, list[dict]]:
    """The objective with its distillation of the teacher (`translated`'s probabilities) scaled by the guard's
    weight, the decision, and the guard inputs' provenance."""
    if len(paths) < 2:
        raise UserError(f"--guard-with needs at least two other predictors (got {len(paths)}): with the teacher, "
                        "three are the fewest whose agreements separate each one's accuracy")
    check_guardable(objective)
    others = guard_predictions(paths, source, tr_set, native, recipe, device, workers)
    decision = guard_weight(teacher.argmax(1).numpy(), others, len(source.classes), objective.guard_margin,
                            holdout_estimate(translated, source))
    info(f"teacher guard: estimated accuracy of the teacher {decision.teacher_accuracy:.1%}, of the others "
         f"{', '.join(f'{a:.1%}' for a in decision.other_accuracies)}: L_KL weight x{decision.weight:.2f}")
    for i in decision.agreeing_beyond_estimate:
        warn(f"teacher guard: the teacher agrees with {paths[i]} more often than a teacher at "
             f"{decision.teacher_accuracy:.1%} could with a model whose mistakes are its own: the held-out estimate "
             "reads the teacher low, or the two share mistakes; the guard cannot tell which, so it puts that model "
             "at 100% and does not trust the teacher")
    provenance = [{"path": str(p), "sha256": sha256_file(p)} for p in paths]
    return objective.guarded(decision.weight), decision, provenance
