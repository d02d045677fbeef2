"""xmt pack: one modality's images (labelled or not) into a checked HDF5 pack that every stage reads fast."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from xmt.cli import options as O
from xmt.cli.common import (ClassesOption, ConfigOption, DepthScaleOption, ForceOption, JsonOption, QuietOption,
                            RootOption, emit, list_classes, options_of, setup)
from xmt.data.packs import COMPRESSIONS, PackResult, write_pack
from xmt.data.readers import drop_duplicates, open_image_set
from xmt.data.validation import Problems
from xmt.engine.output_kinds import pack_of
from xmt.engine.outputs import Output, claim_outputs
from xmt.engine.console import warn

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
    data, root = data.absolute(), root and root.absolute()
    # --root is only the base of the list's paths (often `.`), not an input to keep the pack out of
    with claim_outputs([Output(out, pack_of("images"))], inputs=[data], force=force) as claim:
        problems = Problems()
        images = open_image_set(data, modality, depth_scale, root, problems, list_classes(classes))
        base = root or (data if data.is_dir() else data.parent)
        images = drop_duplicates(images, problems, base)
        provenance = {"format": images.kind, "options": options}
        if images.list_labels is not None:
            provenance["list_labels"] = images.list_labels
        result = write_pack(claim.temporary(out), {modality: images}, size, provenance,
                            root=base, compression=compression, workers=workers, problems=problems, skip_bad=skip_bad)
    report_skipped(result, "images", out)
    emit({"pack": str(out), "images": result.count, "classes": images.classes, "skipped": len(result.problems)}
         if json_output else str(out), json_output)


def report_skipped(result: PackResult, what: str, out: Path) -> None:
    if result.problems:
        warn(f"--skip-bad left out {len(result.problems)} problem input(s); packed {result.count} {what}; "
             f"the problems are recorded in {out} (skipped/)")
