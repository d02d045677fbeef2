"""`xmt train-source` from files to files: labelled RGB images in, the source-model checkpoint and its log out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from xmt.data.sets.readers import open_image_set
from xmt.engine.jsonlog import write_jsonl
from xmt.engine.output_kinds import JSONL_LOG, checkpoint_of
from xmt.engine.outputs import Output, claim_outputs
from xmt.engine.run_state import open_run_state
from xmt.methods.source import SourceConfig, train_source
from xmt.models.backbones import get_backbone_spec
from xmt.artifacts import save_model
from xmt.stages.inputs import read_classes


@dataclass
class SourceOutputs:
    checkpoint: Path
    log: Path
    best_epoch: int
    val_accuracy: float | None


def run_train_source(*, data: Path, out: Path, config: SourceConfig, device: torch.device, root: Path | None = None,
                     classes_file: Path | None = None, force: bool = False, resume: bool = False,
                     cli_options: dict | None = None) -> SourceOutputs:
    get_backbone_spec(config.backbone)  # an unknown backbone is refused before any output is claimed
    classes = read_classes(classes_file)
    log_path = out.with_suffix(".jsonl")
    outputs = [Output(out, checkpoint_of("source-model")), Output(log_path, JSONL_LOG)]
    with claim_outputs(outputs, inputs=[data], force=force) as claim, \
            open_run_state(out, cli_options or {}, {"data": data}, resume=resume, force=force) as state:
        images = open_image_set(data, "rgb", root=root, classes=classes)
        result = train_source(images, config, device, state)
        provenance = {"inputs": {"data": images.provenance()}}
        if result.pretrained_sha256:
            provenance["inputs"]["pretrained"] = {"spec": result.config["pretrained"],
                                                  "sha256": result.pretrained_sha256}
        write_jsonl(claim.temporary(log_path), result.log)
        save_model(claim.temporary(out), result.model, kind="source-model", classes=result.classes,
                   recipe=result.recipe, config={**result.config, "cli": cli_options or {}}, provenance=provenance,
                   extra={"best_epoch": result.best_epoch, "val_accuracy": result.val_accuracy, "split": result.split})
    state.remove()  # the outputs exist: nothing is left to resume
    return SourceOutputs(out, log_path, result.best_epoch, result.val_accuracy)
