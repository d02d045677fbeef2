"""xmt transfer: train the target-modality model (TGKT, or the baselines SHOT, SOCKET, TENT, source-only, oracle)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from xmt.cli.common import (TARGET_TRAINING, RootOption, emit, options_of, target_training)
from xmt.cli.declared import with_settings
from xmt.errors import UserError
from xmt.methods.adapt import AdaptConfig
from xmt.methods.tgkt import TgktObjective
from xmt.settings import changed_from_default, declared as declared_settings
from xmt.stages.transfer import run_transfer

A = AdaptConfig()


@with_settings(AdaptConfig, TgktObjective, shared=TARGET_TRAINING)
def command(
    source_model: Annotated[Path, typer.Option("--source-model", help="The RGB source model (.safetensors).")],
    target_data: Annotated[Path, typer.Option("--target-data", help="Unlabelled TR target images (folder, list file "
                                              "or pack). Labels, if present, are read only by --method oracle.")],
    target: Annotated[str, typer.Option("--target", help="Target modality: depth, nir or thermal.")] = "depth",
    root: RootOption = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Target model to write; its log goes beside it (.jsonl).")]
    = Path("target.safetensors"),
    method: Annotated[str, typer.Option(help="tgkt (the paper's), shot, socket, tent, source-only (no training) or oracle "
                                        "(trains on TARGET labels: an upper bound, not a method).")] = "tgkt",
    translated: Annotated[Optional[Path], typer.Option(help="translated.h5 from xmt bridge (tgkt's L_KL).")] = None,
    ti: Annotated[Optional[Path], typer.Option(help="Paired TI pack from xmt prepare-ti (tgkt's L_f, socket's L_TI).")]
    = None,
    guard_with: Annotated[Optional[list[Path]], typer.Option(
        help="tgkt: guard L_KL with at least two other predictors of these TR images, repeatable: target models "
             "trained without the teacher (e.g. socket's and shot's .safetensors; safest) or another bridge's "
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
    tgkt_settings = {s.name: declared.pop(s.name) for s in declared_settings(TgktObjective)}
    changed = changed_from_default([TgktObjective], tgkt_settings)
    if method != "tgkt" and (changed or guard_with):
        raise UserError(f"{changed[0].flag if changed else '--guard-with'} applies to --method tgkt only")
    settings = AdaptConfig(**declared, seed=shared["seed"], precision=shared["precision"])
    outputs = run_transfer(method=method, source_model=source_model, target_data=target_data, target=target, out=out,
                           translated=translated, ti=ti, tgkt_settings=tgkt_settings, guard_with=guard_with or [],
                           config=settings, channels=channels, cli_options=options, root=root, **run)
    emit({"checkpoint": str(outputs.checkpoint), "log": str(outputs.log) if outputs.log else None,
          "method": outputs.method, "selected_epoch": outputs.selected_epoch} if shared["json_output"]
         else str(outputs.checkpoint), shared["json_output"])
