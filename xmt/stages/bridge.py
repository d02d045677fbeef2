"""`xmt bridge` and `xmt translate` from files to files."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from xmt.data.batches import open_native
from xmt.engine.output_kinds import BRIDGE_FOLDER
from xmt.engine.outputs import Output, claim_outputs
from xmt.engine.hashing import sha256_file
from xmt.engine.jsonlog import write_jsonl
from xmt.engine.run_state import open_run_state
from xmt.errors import UserError
from xmt.methods.tgmb import BridgeConfig, BridgeData, train_bridge
from xmt.artifacts import load_model, save_translator
from xmt.preview import save_grid, to_rgb_uint8
from xmt.stages.inputs import (DEPTH_RANGE_M, check_source_classes, check_target_modality, check_ti_classes,
                               open_target_images, open_ti_pack, target_recipe)
from xmt.stages.translate import HOLDOUT_CHECK, write_translations

PREVIEW_ROWS = 8


@dataclass
class BridgeOutputs:
    folder: Path
    translator: Path
    translated: Path
    preview: Path
    log: Path
    final: dict


def _preview(path: Path, bridge_translator, data: BridgeData, holdout: np.ndarray, device) -> Path:
    rows = torch.from_numpy(holdout[:PREVIEW_ROWS])
    if not len(rows):
        rows = torch.arange(min(PREVIEW_ROWS, len(data.ti_rgb)))
    unit = data.target_recipe.to_unit(data.ti_target.rows(rows).to(device))
    with torch.no_grad():
        fake = bridge_translator.to(device).eval()(unit).float()
    real = data.ti_rgb.rows(rows).float() / 255.0
    return save_grid([to_rgb_uint8(unit), to_rgb_uint8(fake), to_rgb_uint8(real)], path)


def _save_epoch_translators(folder: Path, result, target_recipe, source_recipe, provenance: dict) -> None:
    """With --save-epochs: every epoch's translator beside the kept one, epochs/translator-eNNN.safetensors."""
    if not result.epoch_translators:
        return
    folder.mkdir()
    translator = copy.deepcopy(result.translator)
    for epoch, state in enumerate(result.epoch_translators, start=1):
        translator.load_state_dict(state)
        save_translator(folder / f"translator-e{epoch:03d}.safetensors", translator, target_recipe=target_recipe,
                        source_recipe=source_recipe, config={**result.config, "epoch": epoch}, provenance=provenance)


def run_bridge(*, source_model: Path, ti: Path, target_data: Path, target: str, out: Path, config: BridgeConfig,
               device: torch.device, depth_range_m=DEPTH_RANGE_M, depth_scale_mm: float | None = None,
               workers: int = 0, force: bool = False, cli_options: dict | None = None,
               root: Path | None = None, resume: bool = False, stream: bool = False) -> BridgeOutputs:
    check_target_modality(target)
    inputs = {"source_model": source_model, "ti": ti, "target_data": target_data}
    with claim_outputs([Output(out, BRIDGE_FOLDER)], inputs=inputs.values(), force=force) as claim, \
            open_run_state(out, cli_options or {}, inputs, resume=resume, force=force) as state:
        tmp = claim.temporary(out)
        source = load_model(source_model, kinds=("source-model",))
        if source.modality != "rgb":
            raise UserError(f"is a {source.modality} model; bridge needs the RGB source model", path=source_model)
        size = source.recipe.size
        check_source_classes(source.classes, source_model, "bridge")
        config.check(size)  # the one check of the settings (one translator built), once the images' size is known
        ti_rgb_set, ti_target_set = open_ti_pack(ti, target, size)
        check_ti_classes(ti, source.classes)
        tr_set = open_target_images(target_data, target, size, depth_scale_mm, root)
        recipe = target_recipe(target, ti_target_set, size, depth_range_m)
        config.check_discriminator_fits(size)  # after the inputs' own checks: a TI pack of another size says so first
        data = BridgeData(
            ti_rgb=open_native(ti_rgb_set, source.recipe, workers, stream),
            ti_target=open_native(ti_target_set, recipe, workers, stream),
            tr_target=open_native(tr_set, recipe, workers, stream),
            source_recipe=source.recipe, target_recipe=recipe,
        )
        result = train_bridge(source.model, data, config, device, state)
        provenance = {"inputs": {"source_model": {"path": str(source_model), "sha256": source.sha256},
                                 "ti": ti_rgb_set.provenance(), "target_data": tr_set.provenance()}}
        tmp.mkdir()
        translator_file = save_translator(tmp / "translator.safetensors", result.translator, target_recipe=recipe,
                                          source_recipe=source.recipe,
                                          config={**result.config, "cli": cli_options or {},
                                                  HOLDOUT_CHECK: result.holdout_check},
                                          provenance=provenance)
        _save_epoch_translators(tmp / "epochs", result, recipe, source.recipe, provenance)
        # the translations name the translator file by where it will live once renamed, and by its hash
        made_by = {"path": str(out / "translator.safetensors"), "sha256": sha256_file(translator_file),
                   HOLDOUT_CHECK: result.holdout_check}
        write_translations(tmp / "translated.h5", result.translator, recipe, made_by, source, tr_set, data.tr_target,
                           device)
        _preview(tmp / "preview.png", result.translator, data, result.holdout, device)
        write_jsonl(tmp / "bridge.jsonl", result.log)
    state.remove()  # the outputs exist: nothing is left to resume
    return BridgeOutputs(out, out / "translator.safetensors", out / "translated.h5", out / "preview.png",
                         out / "bridge.jsonl", result.log[-1] if result.log else {})
