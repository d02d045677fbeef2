"""xmt train-source: train the RGB source model on a labelled folder (SHOT's recipe)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from xmt.cli import options as O
from xmt.cli.common import (ClassesOption, ConfigOption, DeviceOption, ForceOption, JsonOption, PrecisionOption,
                            QuietOption, ResumeOption, RootOption, SeedOption, WorkersOption, emit, options_of, setup)
from xmt.methods.source import SourceConfig
from xmt.stages.train_source import run_train_source

D = SourceConfig()


def command(
    data: Annotated[Path, typer.Argument(help="Labelled RGB images: DIR/<class>/<file>, a labelled list file or a pack.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Checkpoint to write.")] = Path("source.safetensors"),
    root: RootOption = None,
    classes: ClassesOption = None,
    backbone: Annotated[str, typer.Option(help="mobilenet_v2, resnet18, resnet50 or smallcnn.")] = D.backbone,
    pretrained: Annotated[str, typer.Option(help="auto (ImageNet where the backbone has weights; smallcnn: none), "
                                            "imagenet, none, or PATH to a state dict.")] = D.pretrained,
    epochs: Annotated[int, typer.Option(parser=O.COUNT)] = D.epochs,
    batch_size: Annotated[int, typer.Option(parser=O.COUNT)] = D.batch_size,
    lr: Annotated[float, typer.Option(parser=O.POSITIVE, help="Learning rate of bottleneck and head; the backbone gets lr x backbone-lr-mult.")] = D.lr,
    backbone_lr_mult: Annotated[float, typer.Option(parser=O.NON_NEGATIVE)] = D.backbone_lr_mult,
    weight_decay: Annotated[float, typer.Option(parser=O.NON_NEGATIVE)] = D.weight_decay,
    label_smoothing: Annotated[float, typer.Option(parser=O.Bounded(0.0, 1.0, max_open=True))] = D.label_smoothing,
    val_fraction: Annotated[float, typer.Option(parser=O.Bounded(0.0, 0.9), help="Share of each class held out to pick the best epoch.")] = D.val_fraction,
    size: Annotated[int, typer.Option(parser=O.SIZE, help="Input size in pixels (shorter side resized, centre crop).")] = D.size,
    augment: Annotated[bool, typer.Option(help="Random flips and shifts.")] = D.augment,
    seed: SeedOption = D.seed,
    device: DeviceOption = "auto",
    precision: PrecisionOption = D.precision,
    workers: WorkersOption = D.workers,
    force: ForceOption = False,
    resume: ResumeOption = False,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    config: ConfigOption = None,
) -> None:
    """Train the source model on labelled RGB images; writes a source-model checkpoint and its log (.jsonl)."""
    options = options_of(locals())
    torch_device = setup(quiet, device)
    settings = SourceConfig(backbone=backbone, pretrained=pretrained, epochs=epochs, batch_size=batch_size, lr=lr,
                            backbone_lr_mult=backbone_lr_mult, weight_decay=weight_decay,
                            label_smoothing=label_smoothing, val_fraction=val_fraction, size=size, augment=augment,
                            seed=seed, precision=precision, workers=workers)
    result = run_train_source(data=data, out=out, config=settings, device=torch_device, root=root,
                              classes_file=classes, force=force, resume=resume, cli_options=options)
    emit({"checkpoint": str(result.checkpoint), "log": str(result.log), "best_epoch": result.best_epoch,
          "val_accuracy": result.val_accuracy} if json_output else str(result.checkpoint), json_output)
