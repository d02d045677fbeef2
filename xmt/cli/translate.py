"""xmt translate: apply a trained translator to any target images; writes a translated pack."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from xmt.cli.common import DepthScaleOption, DeviceOption, ForceOption, QuietOption, RootOption, WorkersOption, setup
from xmt.cli.config_file import ConfigOption
from xmt.cli.output import emit
from xmt.stages.translate import run_translate


def command(
    translator: Annotated[Path, typer.Option("--translator", help="translator.safetensors from xmt bridge.")],
    source_model: Annotated[Path, typer.Option("--source-model", help="The source model the translator was "
                                               "trained with (its probabilities go into the pack).")],
    data: Annotated[Path, typer.Option("--data", help="Target images: a folder, list file or pack.")],
    root: RootOption = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Translated pack to write (.h5).")] = Path("translated.h5"),
    depth_scale: DepthScaleOption = None,
    device: DeviceOption = "auto",
    workers: WorkersOption = 0,
    force: ForceOption = False,
    quiet: QuietOption = False,
    config: ConfigOption = None,
) -> None:
    """Translate target images to source-like RGB with a trained translator (as bridge does for its TR images)."""
    torch_device = setup(quiet, device)
    emit(run_translate(translator_path=translator, source_model=source_model, data=data, out=out,
                       device=torch_device, depth_scale_mm=depth_scale, workers=workers, force=force, root=root),
         False)
