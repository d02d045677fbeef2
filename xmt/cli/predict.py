"""xmt predict: labels for new images, as CSV `path,label,confidence`."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from xmt.cli import options as O
from xmt.cli.common import (ConfigOption, DeviceOption, DepthScaleOption, ForceOption, QuietOption, RootOption,
                            WorkersOption, setup)
from xmt.data.readers import open_image_set
from xmt.engine.output_kinds import PREDICTIONS_CSV
from xmt.engine.outputs import Output, claim_outputs
from xmt.methods.evaluation import predict_labels
from xmt.models.io import load_model


def command(
    model: Annotated[Path, typer.Argument(help="Model checkpoint.")],
    data: Annotated[Path, typer.Argument(help="Images of the model's modality: a folder, list file or pack "
                                         "(labels, if any, are ignored).")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="CSV file to write (default: stdout).")] = None,
    root: RootOption = None,
    batch_size: Annotated[int, typer.Option(parser=O.COUNT)] = 256,
    depth_scale: DepthScaleOption = None,
    workers: WorkersOption = 0,
    device: DeviceOption = "auto",
    force: ForceOption = False,
    quiet: QuietOption = False,
    config: ConfigOption = None,
) -> None:
    """Predict a label for every image; CSV with header path,label,confidence."""
    torch_device = setup(quiet, device)
    with claim_outputs([out and Output(out, PREDICTIONS_CSV)], inputs=[model, data], force=force) as claim:
        loaded = load_model(model)
        images = open_image_set(data, loaded.modality, depth_scale, root, labels_optional=True)
        rows = predict_labels(loaded, images, torch_device, batch_size, workers)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["path", "label", "confidence"], lineterminator="\n")
        writer.writeheader()
        writer.writerows({**r, "confidence": f"{r['confidence']:.6f}"} for r in rows)
        if out is not None:
            claim.temporary(out).write_text(buffer.getvalue())
    sys.stdout.write(buffer.getvalue() if out is None else f"{out}\n")
