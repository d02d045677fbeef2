"""xmt train-source: train the RGB source model on a labelled folder (SHOT's recipe)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from xmt.cli.common import (ClassesOption, DeviceOption, ForceOption, JsonOption, PrecisionOption, QuietOption,
                            ResumeOption, RootOption, SeedOption, WorkersOption, setup)
from xmt.cli.config_file import ConfigOption
from xmt.cli.declared import with_settings
from xmt.cli.output import emit, options_of
from xmt.methods.source import SourceConfig
from xmt.stages.train_source import run_train_source

D = SourceConfig()


@with_settings(SourceConfig)
def command(
    data: Annotated[Path, typer.Argument(help="Labelled RGB images: DIR/<class>/<file>, a labelled list file or a pack.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Checkpoint to write.")] = Path("source.safetensors"),
    root: RootOption = None,
    classes: ClassesOption = None,
    seed: SeedOption = D.seed,
    device: DeviceOption = "auto",
    precision: PrecisionOption = D.precision,
    workers: WorkersOption = D.workers,
    force: ForceOption = False,
    resume: ResumeOption = False,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    config: ConfigOption = None,
    *,
    declared: dict,
) -> None:
    """Train the source model on labelled RGB images; writes a source-model checkpoint and its log (.jsonl)."""
    options = options_of(locals())
    torch_device = setup(quiet, device)
    settings = SourceConfig(**declared, seed=seed, precision=precision, workers=workers)
    result = run_train_source(data=data, out=out, config=settings, device=torch_device, root=root,
                              classes_file=classes, force=force, resume=resume, cli_options=options)
    emit({"checkpoint": str(result.checkpoint), "log": str(result.log), "best_epoch": result.best_epoch,
          "val_accuracy": result.val_accuracy} if json_output else str(result.checkpoint), json_output)
