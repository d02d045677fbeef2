"""xmt pack: one modality's images (labelled or not) into a checked HDF5 pack that every stage reads fast."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from xmt.cli import options as O
from xmt.cli.common import (ClassesOption, DepthScaleOption, ForceOption, JsonOption, QuietOption, RootOption, setup,
                            shared_option)
from xmt.cli.config_file import ConfigOption
from xmt.cli.declared import with_settings
from xmt.cli.output import emit, options_of
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

# the options of the commands that write packs (pack, prepare-ti): with_settings(shared=PACKING)
PACKING = (
    shared_option("size", SizeOption, 64), shared_option("depth_scale", DepthScaleOption, None),
    shared_option("compression", CompressionOption, "lzf"), shared_option("skip_bad", SkipBadOption, False),
    shared_option("workers", PackWorkersOption, min(os.cpu_count() or 1, 8)), shared_option("force", ForceOption, False),
    shared_option("json_output", JsonOption, False), shared_option("quiet", QuietOption, False),
    shared_option("config", ConfigOption, None),
)
# not stored with the pack: where it is written and how, not what it holds
NOT_RECORDED = ("config", "quiet", "json_output", "force", "workers", "out")


def packing(shared: dict) -> dict:
    """Apply --quiet; the keywords PACKING's values give the stage (run_pack, run_prepare_ti)."""
    setup(shared["quiet"])
    return {"size": shared["size"], "depth_scale_mm": shared["depth_scale"], "compression": shared["compression"],
            "skip_bad": shared["skip_bad"], "workers": shared["workers"], "force": shared["force"]}


@with_settings(shared=PACKING)
def command(
    data: Annotated[Path, typer.Argument(help="Images of one modality: DIR/<class>/<file>, DIR/<file>, a list file "
                                         "('path[<TAB>class]' a line) or a pack.")],
    modality: Annotated[str, typer.Option(help="rgb, depth, nir or thermal.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Pack to write.")],
    root: RootOption = None,
    classes: ClassesOption = None,
    *,
    shared: dict,
) -> None:
    """Check one modality's images and pack them into one HDF5 file (the TR target images, or RGB for train-source)."""
    options = options_of(locals(), drop=NOT_RECORDED)
    result = run_pack(data=data, modality=modality, out=out, root=root, classes_file=classes, cli_options=options,
                      **packing(shared))
    emit({"pack": str(result.pack), "images": result.count, "classes": result.classes, "skipped": result.skipped}
         if shared["json_output"] else str(result.pack), shared["json_output"])
