"""xmt predict: labels for new images, as CSV `path,label,confidence`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from xmt.cli import options as O
from xmt.cli.common import DeviceOption, DepthScaleOption, ForceOption, QuietOption, RootOption, WorkersOption, setup
from xmt.cli.config_file import ConfigOption
from xmt.stages.predict import run_predict


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
    result = run_predict(model=model, data=data, device=torch_device, out=out, root=root, batch_size=batch_size,
                         depth_scale_mm=depth_scale, workers=workers, force=force)
    sys.stdout.write(result.csv if result.file is None else f"{result.file}\n")
