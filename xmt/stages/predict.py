"""`xmt predict` from files to files: a model and images in, CSV `path,label,confidence` out."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import torch

from xmt.data.sets.readers import open_image_set
from xmt.engine.output_kinds import PREDICTIONS_CSV
from xmt.engine.outputs import Output, claim_outputs
from xmt.methods.evaluation import predict_labels
from xmt.artifacts import load_model
from xmt.stages.inputs import check_size


@dataclass
class PredictOutputs:
    csv: str  # header path,label,confidence, then one line an image
    file: Path | None  # where the CSV was written, if asked for


def run_predict(*, model: Path, data: Path, device: torch.device, out: Path | None = None, root: Path | None = None,
                batch_size: int = 256, depth_scale_mm: float | None = None, workers: int = 0,
                force: bool = False) -> PredictOutputs:
    with claim_outputs([out and Output(out, PREDICTIONS_CSV)], inputs=[model, data], force=force) as claim:
        loaded = load_model(model)
        images = open_image_set(data, loaded.modality, depth_scale_mm, root, labels_optional=True)
        check_size(images, loaded.recipe.size)  # folders and lists are resized; a pack is read as stored
        rows = predict_labels(loaded, images, device, batch_size, workers)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["path", "label", "confidence"], lineterminator="\n")
        writer.writeheader()
        writer.writerows({**r, "confidence": f"{r['confidence']:.6f}"} for r in rows)
        if out is not None:
            claim.temporary(out).write_text(buffer.getvalue())
    return PredictOutputs(buffer.getvalue(), out)
