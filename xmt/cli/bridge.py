"""xmt bridge (TGMB): train a translator from the target modality to source-like RGB; translate every TR image."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from xmt.cli import options as O
from xmt.cli.common import (ConfigOption, DepthFarOption, DepthNearOption, DepthScaleOption, DeviceOption,
                            ForceOption, JsonOption, PrecisionOption, QuietOption, ResumeOption, RootOption,
                            SeedOption, WorkersOption, emit, options_of, parse_key_values, setup)
from xmt.cli.declared import with_settings
from xmt.methods.tgmb import BridgeConfig
from xmt.stages.bridge import run_bridge


@with_settings(BridgeConfig)
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
    depth_near: DepthNearOption = 0.0,
    depth_far: DepthFarOption = 10.0,
    depth_scale: DepthScaleOption = None,
    seed: SeedOption = 0,
    device: DeviceOption = "auto",
    precision: PrecisionOption = "fp32",
    workers: WorkersOption = 0,
    force: ForceOption = False,
    resume: ResumeOption = False,
    stream: Annotated[bool, typer.Option("--stream", help="Read TI and TR images a batch at a time instead of into "
                                         "memory: for data larger than memory (packs read fastest).")] = False,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    config: ConfigOption = None,
    *,
    declared: dict,
) -> None:
    """TGMB: learn a translator target -> source-like RGB guided by the frozen source model, then translate every TR image."""
    options = options_of(locals())
    O.check_depth_range(depth_near, depth_far)
    torch_device = setup(quiet, device)
    settings = BridgeConfig(**declared, translator_args=parse_key_values(translator_arg or [], "--translator-arg"),
                            seed=seed, precision=precision)
    outputs = run_bridge(source_model=source_model, ti=ti, target_data=target_data, target=target, out=out,
                         config=settings, device=torch_device, depth_range_m=(depth_near, depth_far),
                         depth_scale_mm=depth_scale, workers=workers, force=force, cli_options=options, root=root,
                         resume=resume, stream=stream)
    emit({"folder": str(outputs.folder), "translator": str(outputs.translator), "translated": str(outputs.translated),
          "preview": str(outputs.preview), "log": str(outputs.log), "final": outputs.final}
         if json_output else str(outputs.folder), json_output)
