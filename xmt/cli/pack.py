"""xmt pack: one modality's images (labelled or not) into a checked HDF5 pack that every stage reads fast."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from xmt.cli import options as O
from xmt.cli.common import (ClassesOption, ConfigOption, DepthScaleOption, ForceOption, JsonOption, QuietOption,
                            RootOption, emit, options_of, setup)
from xmt.stages.pack import COMPRESSIONS, run_pack

SizeOption = Annotated[int, typer.Option(parser=O.SIZE, help="Stored size in pixels: shorter side resized, centre crop "
                                         "(depth without blending invalid pixels).")]
CompressionOption = Annotated[str, typer.Option(help=f"HDF5 compression: {', '.join(COMPRESSIONS)} (lzf: fast; "
                                                "gzip: a little smaller; szip: smallest, about the size of PNGs, "
                                                "slowest to read).")]
SkipBadOption = Annotated[bool, typer.Option("--skip-bad", help="Leave bad inputs out (counted, and recorded in the "
                                             "pack) instead of failing.")]
PackWorkersOption = Annotated[int, typer.Option(parser=O.NON_NEGATIVE_INT, help="Processes decoding images (0: in the main process); "
                                                "the pack is the same whatever the number.")]


def command(
    data: Annotated[Path, typer.Argument(help="Images of one modality: DIR/<class>/<file>, DIR/<file>, a list file "
                                         "('path[<TAB>class]' a line) or a pack.")],
    modality: Annotated[str, typer.Option(help="rgb, depth, nir or thermal.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Pack to write.")],
    root: RootOption = None,
    classes: ClassesOption = None,
    size: SizeOption = 64,
    depth_scale: DepthScaleOption = None,
    compression: CompressionOption = "lzf",
    skip_bad: SkipBadOption = False,
    workers: PackWorkersOption = min(os.cpu_count() or 1, 8),
    force: ForceOption = False,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    config: ConfigOption = None,
) -> None:
    """Check one modality's images and pack them into one HDF5 file (the TR target images, or RGB for train-source)."""
    options = options_of(locals(), drop=("config", "quiet", "json_output", "force", "workers", "out"))
    setup(quiet)
    result = run_pack(data=data, modality=modality, out=out, size=size, root=root, classes_file=classes,
                      depth_scale_mm=depth_scale, compression=compression, skip_bad=skip_bad, workers=workers,
                      force=force, cli_options=options)
    emit({"pack": str(result.pack), "images": result.count, "classes": result.classes, "skipped": result.skipped}
         if json_output else str(result.pack), json_output)
