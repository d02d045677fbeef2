"""xmt transfer: train the target-modality model (TGKT, or the baselines SHOT, SOCKET, TENT, source-only, oracle)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from xmt.cli.common import TARGET_TRAINING, RootOption, target_training
from xmt.cli.declared import with_settings
from xmt.cli.output import emit, options_of
from xmt.methods.adapt import AdaptConfig
from xmt.methods.objective import method_option_classes, methods_declaring, methods_help
from xmt.settings import declared as declared_settings
from xmt.stages.transfer import run_transfer


def _methods(need: str) -> str:
    """The methods that read what `need` says (an Objective attribute), for option help."""
    return ", ".join(methods_declaring(need))


# every registered method's declared settings are options; the stage hands each method its own
@with_settings(AdaptConfig, *method_option_classes(), shared=TARGET_TRAINING)
def command(
    source_model: Annotated[Path, typer.Option("--source-model", help="The RGB source model (.safetensors).")],
    target_data: Annotated[Path, typer.Option("--target-data", help="Unlabelled TR target images (folder, list file "
                                              "or pack). Labels, if present, are read only by --method "
                                              f"{_methods('uses_labels')}.")],
    target: Annotated[str, typer.Option("--target", help="Target modality: depth, nir or thermal.")] = "depth",
    root: RootOption = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Target model to write; its log goes beside it (.jsonl).")]
    = Path("target.safetensors"),
    method: Annotated[str, typer.Option(help=f"The transfer method: {methods_help()}.")] = "tgkt",
    translated: Annotated[Optional[Path], typer.Option(help="translated.h5 from xmt bridge: the teacher that --method "
                                                       f"{_methods('uses_translations')} distil.")] = None,
    ti: Annotated[Optional[Path], typer.Option(help="Paired TI pack from xmt prepare-ti, whose features --method "
                                               f"{_methods('uses_ti')} align.")] = None,
    guard_with: Annotated[Optional[list[Path]], typer.Option(
        help=f"{_methods('guardable')}: guard L_KL with at least two other predictors of these TR images, repeatable: "
             "target models trained without the teacher (e.g. socket's and shot's .safetensors; safest) or another bridge's "
             "translated.h5 (it shares the teacher's mistakes). Their agreement estimates each one's accuracy (no "
             "labels); see --guard-margin.")] = None,
    channels: Annotated[str, typer.Option(help="One channel to three: replicate (as SOCKET) or colormap.")]
    = "replicate",
    *,
    declared: dict,
    shared: dict,
) -> None:
    """Train the target-modality model from the source model; writes a target-model checkpoint."""
    options = options_of(locals())
    run = target_training(shared)
    loop = {s.name: declared.pop(s.name) for s in declared_settings(AdaptConfig)}
    settings = AdaptConfig(**loop, seed=shared["seed"], precision=shared["precision"])
    outputs = run_transfer(method=method, source_model=source_model, target_data=target_data, target=target, out=out,
                           translated=translated, ti=ti, method_settings=declared, guard_with=guard_with or [],
                           config=settings, channels=channels, cli_options=options, root=root, **run)
    emit({"checkpoint": str(outputs.checkpoint), "log": str(outputs.log) if outputs.log else None,
          "method": outputs.method, "selected_epoch": outputs.selected_epoch} if shared["json_output"]
         else str(outputs.checkpoint), shared["json_output"])
