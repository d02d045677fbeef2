"""xmt synth: write the embedded benchmark (procedural scenes as pixel-aligned RGB, depth and NIR)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from xmt.cli import options as O
from xmt.cli.common import ForceOption, JsonOption, QuietOption, setup
from xmt.cli.config_file import ConfigOption
from xmt.cli.output import emit
from xmt.stages.synth import run_synth
from xmt.synth.generate import SynthConfig

D = SynthConfig()


def command(
    out: Annotated[Path, typer.Argument(help="Folder to write (source/, ti/, target/, manifest.json).")],
    seed: Annotated[int, typer.Option(parser=O.SEED, help="Every scene derives from (seed, split, class, index).")] = D.seed,
    size: Annotated[int, typer.Option(parser=O.Bounded(16, 4096, integer=True), help="Shorter image side in pixels; the longer follows the sensor's "
                                      "aspect ratio.")] = D.size,
    source_profile: Annotated[str, typer.Option(help="Sensor rig of the labelled source RGB camera: kinect_v1, "
                                                "kinect_v2, realsense or xtion.")] = D.source_profile,
    target_profile: Annotated[str, typer.Option(help="Sensor rig of the TI pairs and the target splits (differs from "
                                                "--source-profile for a cross-sensor task).")] = D.target_profile,
    modalities: Annotated[str, typer.Option(help="Target modalities to write, comma-separated: depth, nir "
                                            "(and rgb: target-camera RGB).")] = ",".join(D.modalities),
    source_per_class: Annotated[int, typer.Option(parser=O.COUNT, help="Source RGB scenes per TR class.")] = D.source_per_class,
    ti_per_class: Annotated[int, typer.Option(parser=O.COUNT, help="Paired TI scenes per TI class.")] = D.ti_per_class,
    adapt_per_class: Annotated[int, typer.Option(parser=O.COUNT, help="Target adaptation scenes per TR class.")]
    = D.adapt_per_class,
    test_per_class: Annotated[int, typer.Option(parser=O.COUNT, help="Held-out target test scenes per TR class.")]
    = D.test_per_class,
    preview: Annotated[Optional[Path], typer.Option(help="Also write a contact sheet PNG (RGB | depth | NIR "
                                                    "rows, two scenes per class).")] = None,
    workers: Annotated[int, typer.Option(parser=O.COUNT, help="Rendering processes.")] = 2,
    force: ForceOption = False,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    config: ConfigOption = None,
) -> None:
    """Render the embedded benchmark: labelled source RGB, paired TI data and target adapt/test splits."""
    setup(quiet)
    settings = SynthConfig(seed=seed, size=size, source_profile=source_profile, target_profile=target_profile,
                           modalities=tuple(m.strip() for m in modalities.split(",") if m.strip()),
                           source_per_class=source_per_class, ti_per_class=ti_per_class,
                           adapt_per_class=adapt_per_class, test_per_class=test_per_class)
    manifest = run_synth(out, settings, preview=preview, workers=workers, force=force)
    emit(manifest if json_output else str(out), json_output)
