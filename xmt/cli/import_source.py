"""xmt import-source: a classifier trained elsewhere (the SHOT family, torchvision, timm) as xmt's source model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from xmt.cli import options as O
from xmt.cli.common import ConfigOption, DeviceOption, ForceOption, JsonOption, QuietOption, emit, options_of, setup
from xmt.stages.import_source import (IMAGENET_MEAN, IMAGENET_STD, RESIZE_POLICIES, SHOT_BOTTLENECKS, SHOT_FILES,
                                      ImportSource, run_import_source)

Triple = tuple[float, float, float]


def command(
    model: Annotated[Path, typer.Argument(help=f"The classifier: a SHOT-family folder ({', '.join(SHOT_FILES)}) or a "
                                          "state-dict file (torch.save; read without running any code).")],
    arch: Annotated[Optional[str], typer.Option(help="shot (default for a folder), torchvision:NAME (e.g. "
                                                "torchvision:resnet50) or timm:NAME (needs pip install 'xmt\\[timm]').")] = None,
    classes: Annotated[Optional[Path], typer.Option(help="Class names, one a line, line i naming output i.")] = None,
    imagenet_classes: Annotated[bool, typer.Option("--imagenet-classes", help="The 1000 ImageNet class names as "
                                                   "torchvision gives them.")] = False,
    out: Annotated[Path, typer.Option("--out", "-o", help="Checkpoint to write.")] = Path("source.safetensors"),
    size: Annotated[int, typer.Option(parser=O.Bounded(8, 4096, integer=True),
                                      help="Input size in pixels the model reads.")] = 224,
    mean: Annotated[Triple, typer.Option(help="Per-channel mean of the model's input normalisation (RGB).")] = IMAGENET_MEAN,
    std: Annotated[Triple, typer.Option(help="Per-channel std of the model's input normalisation (RGB).")] = IMAGENET_STD,
    resize: Annotated[Optional[str], typer.Option(help=f"How images become size x size: {', '.join(RESIZE_POLICIES)} "
                                                  "(default: shot-test for SHOT's models, torchvision-eval otherwise: "
                                                  "both read at 256/224 of the size, then crop the centre).")] = None,
    bottleneck_type: Annotated[str, typer.Option(help=f"SHOT family: {' or '.join(SHOT_BOTTLENECKS)}, as the "
                                                 "model was trained (SHOT's --classifier: bn applies the bottleneck's "
                                                 "BatchNorm).")] = "bn",
    check: Annotated[Optional[Path], typer.Option(help="Labelled RGB images (DIR/<class>/<file>) to score the "
                                                  "imported model on.")] = None,
    device: DeviceOption = "auto",
    force: ForceOption = False,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    config: ConfigOption = None,
) -> None:
    """Import a trained RGB classifier as a source model; its logits are checked against the original's."""
    options = options_of(locals())
    torch_device = setup(quiet, device)
    result = run_import_source(source=ImportSource.from_arch(arch, model, bottleneck_type), out=out, classes_file=classes,
                               imagenet_classes=imagenet_classes, size=size, mean=mean, std=std, resize=resize,
                               check=check, device=torch_device, force=force, cli_options=options)
    emit({"checkpoint": str(result.checkpoint), "architecture": result.architecture, "classes": result.classes,
          "max_logit_difference": result.max_logit_difference, "check_accuracy": result.check_accuracy}
         if json_output else str(result.checkpoint), json_output)
