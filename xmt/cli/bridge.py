"""xmt bridge (TGMB): train a translator from the target modality to source-like RGB; translate every TR image."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from xmt.cli.common import TARGET_TRAINING, RootOption, target_training, parse_key_values
from xmt.cli.declared import with_settings
from xmt.cli.output import emit, options_of
from xmt.methods.tgmb import BridgeConfig
from xmt.stages.bridge import run_bridge


@with_settings(BridgeConfig, shared=TARGET_TRAINING)
def command(
    source_model: Annotated[Path, typer.Option("--source-model", help="The frozen RGB source model (.safetensors).")],
    ti: Annotated[Path, typer.Option("--ti", help="Paired TI pack from xmt prepare-ti (rgb + the target modality).")],
    target_data: Annotated[Path, typer.Option("--target-data", help="Unlabelled TR target images: a folder, list "
                                              "file or pack (labels, if any, are never read for training).")],
    target: Annotated[str, typer.Option("--target", help="Target modality: depth, nir or thermal.")] = "depth",
    root: RootOption = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder: translator.safetensors, translated.h5, "
                                      "preview.png, bridge.jsonl.")] = Path("bridge"),
    translator_arg: Annotated[Optional[list[str]], typer.Option(
        help="Translator constructor argument KEY=VALUE, repeatable (e.g. base_channels=64).")] = None,
    *,
    declared: dict,
    shared: dict,
) -> None:
    """TGMB: learn a translator target -> source-like RGB guided by the frozen source model, then translate every TR image."""
    options = options_of(locals())
    run = target_training(shared)
    settings = BridgeConfig(**declared, translator_args=parse_key_values(translator_arg or [], "--translator-arg"),
                            seed=shared["seed"], precision=shared["precision"])
    outputs = run_bridge(source_model=source_model, ti=ti, target_data=target_data, target=target, out=out,
                         config=settings, cli_options=options, root=root, **run)
    emit({"folder": str(outputs.folder), "translator": str(outputs.translator), "translated": str(outputs.translated),
          "preview": str(outputs.preview), "log": str(outputs.log), "final": outputs.final}
         if shared["json_output"] else str(outputs.folder), shared["json_output"])
