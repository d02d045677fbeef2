"""`xmt evaluate` from files to files: models and labelled images in, their metrics (and a JSON file) out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from xmt.data.sets.readers import open_image_set
from xmt.engine.output_kinds import METRICS_JSON
from xmt.engine.outputs import Output, claim_outputs
from xmt.methods.evaluation import evaluate_model
from xmt.artifacts import load_model
from xmt.stages.inputs import check_size, read_classes


@dataclass
class EvaluateOutputs:
    results: list[dict]  # each model's metrics, in the order given
    metrics: Path | None  # the JSON file written, if asked for

    @property
    def payload(self) -> dict:
        """What --json prints and the JSON file holds: one model's metrics, or {"results": [...]} of several."""
        return self.results[0] if len(self.results) == 1 else {"results": self.results}


def run_evaluate(*, models: list[Path], data: Path, device: torch.device, out: Path | None = None,
                 root: Path | None = None, classes_file: Path | None = None, batch_size: int = 256,
                 depth_scale_mm: float | None = None, workers: int = 0, force: bool = False) -> EvaluateOutputs:
    with claim_outputs([out and Output(out, METRICS_JSON)], inputs=[*models, data], force=force) as claim:
        loaded = [load_model(path) for path in models]
        names = read_classes(classes_file)
        results = []
        for model in loaded:
            images = open_image_set(data, model.modality, depth_scale_mm, root, classes=names)
            images.check_labels()  # a pack's corrupt labels are refused as such, whatever its size
            check_size(images, model.recipe.size)  # folders and lists are resized; a pack is read as stored
            results.append(evaluate_model(model, images, device, batch_size, workers))
        outputs = EvaluateOutputs(results, out)
        if out is not None:
            claim.temporary(out).write_text(json.dumps(outputs.payload, indent=2))
    return outputs
