"""`xmt transfer` from files to files: every method reads and writes the same artifacts."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch

from xmt.data.batches import NativeImages, open_native
from xmt.data.encoding import EncodingRecipe
from xmt.engine.output_kinds import JSONL_LOG, checkpoint_of
from xmt.engine.outputs import Output, claim_outputs
from xmt.engine.hashing import sha256_file
from xmt.engine.jsonlog import write_jsonl
from xmt.engine.run_state import open_run_state
from xmt.errors import UserError
from xmt.methods.adapt import AdaptConfig, AdaptData, adapt
from xmt.methods.inference import predict
from xmt.methods.objective import METHODS, create_objective  # noqa: F401 (METHODS: what --method names)
from xmt.artifacts import LoadedModel, load_model, save_model
from xmt.stages.teacher_guard import check_guardable, guard_teacher
from xmt.stages.translations import check_translations
from xmt.stages.inputs import (DEPTH_RANGE_M, check_source_classes, check_target_modality, check_ti_classes,
                               open_target_images, open_ti_pack, target_recipe)

STATISTICS_SAMPLE = 1024  # TR images whose mean/std normalise the target recipe (label-free)


@dataclass
class TransferOutputs:
    checkpoint: Path
    log: Path | None
    method: str
    selected_epoch: int | None


def fit_target_recipe(recipe: EncodingRecipe, images: NativeImages, seed: int) -> EncodingRecipe:
    """Normalise with the mean/std of (a sample of) the unlabelled TR images."""
    generator = torch.Generator().manual_seed(seed)
    sample = torch.randperm(len(images), generator=generator)[:STATISTICS_SAMPLE]
    return recipe.with_statistics(images.rows(sample).float())


def _ti_inputs(ti: Path | None, target: str, source: LoadedModel, recipe: EncodingRecipe, device, workers,
               stream):
    if ti is None:
        raise UserError("this method needs the paired TI pack: pass --ti ti.h5 (from xmt prepare-ti)")
    rgb_set, target_set = open_ti_pack(ti, target, recipe.size)
    ti_target = open_native(target_set, recipe, workers, stream)
    rgb = open_native(rgb_set, source.recipe, workers, stream)
    _, features = predict(source.model.to(device), source.recipe, rgb, device)
    return ti_target, features, rgb_set.provenance()


def run_transfer(*, method: str, source_model: Path, target_data: Path, target: str, out: Path,
                 translated: Path | None, ti: Path | None, config: AdaptConfig, method_settings: dict | None = None,
                 guard_with: list[Path] = (),
                 device: torch.device, channels: str = "replicate", depth_range_m=DEPTH_RANGE_M,
                 depth_scale_mm: float | None = None, workers: int = 0, force: bool = False,
                 cli_options: dict | None = None, root: Path | None = None, resume: bool = False,
                 stream: bool = False) -> TransferOutputs:
    check_target_modality(target)
    objective = create_objective(method, method_settings or {})
    if guard_with:
        check_guardable(objective)
    if resume and objective is None:
        raise UserError("--resume: source-only trains nothing, so there is nothing to resume")
    config.check()
    log_path = out.with_suffix(".jsonl")
    outputs = [Output(out, checkpoint_of("target-model")), Output(log_path, JSONL_LOG) if objective else None]
    inputs = {"source_model": source_model, "target_data": target_data, "translated": translated, "ti": ti,
              **{f"guard_with[{i}]": path for i, path in enumerate(guard_with)}}
    with claim_outputs(outputs, inputs=inputs.values(), force=force) as claim, \
            (open_run_state(out, cli_options or {}, inputs, resume=resume, force=force) if objective else
             nullcontext()) as state:
        source = load_model(source_model, kinds=("source-model",))
        if source.modality != "rgb":
            raise UserError(f"is a {source.modality} model; transfer starts from the RGB source model", path=source_model)
        check_source_classes(source.classes, source_model, "transfer")
        check_ti_classes(ti, source.classes)
        tr_set = open_target_images(target_data, target, source.recipe.size, depth_scale_mm, root)
        recipe = target_recipe(target, tr_set, source.recipe.size, depth_range_m, channels)
        uses_labels = objective is not None and objective.uses_labels
        labels = torch.from_numpy(tr_set.labels_for(source.classes)) if uses_labels else None
        native = open_native(tr_set, recipe, workers, stream)
        native.labels = torch.full_like(native.labels, -1)  # no method reads TR labels from the data
        recipe = fit_target_recipe(recipe, native, config.seed)
        provenance = {"inputs": {"source_model": {"path": str(source_model), "sha256": source.sha256},
                                 "target_data": tr_set.provenance()}}
        data = AdaptData(tr=native, recipe=recipe)
        if objective is not None and objective.uses_translations:
            if translated is None:
                off = f", or {objective.translations_off}" if objective.translations_off else ""
                raise UserError(f"{objective.name} distils the source model's predictions on bridge's translations: "
                                f"pass --translated translated.h5 (from xmt bridge){off}")
            data.teacher_probs = check_translations(translated, source, tr_set)
            provenance["inputs"]["translated"] = {"path": str(translated), "sha256": sha256_file(translated)}
        guard = None
        if guard_with:
            objective, guard, provenance["inputs"]["guard_with"] = guard_teacher(
                guard_with, objective, data.teacher_probs, translated, source, tr_set, native, recipe, device,
                workers)
        if objective is not None and objective.uses_ti:
            data.ti_target, data.ti_source_features, provenance["inputs"]["ti"] = _ti_inputs(
                ti, target, source, recipe, device, workers, stream)

        if objective is None:  # source-only: the source weights, reading the target modality
            model, log, selected = source.model, [], None
            settings = {"method": method}
        else:
            result = adapt(source.model, data, objective, config, device, labels, state)
            model, log, selected = result.model, result.log, result.selected_epoch
            settings = {"method": method, **result.config, **({"guard": guard.record()} if guard else {})}
            write_jsonl(claim.temporary(log_path), log)
        save_model(claim.temporary(out), model, kind="target-model", classes=source.classes, recipe=recipe,
                   config={**settings, "cli": cli_options or {}}, provenance=provenance,
                   extra={"method": method, "oracle": uses_labels, "selected_epoch": selected})
    if state is not None:
        state.remove()  # the outputs exist: nothing is left to resume
    return TransferOutputs(out, log_path if objective is not None else None, method, selected)
