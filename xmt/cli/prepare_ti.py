"""xmt prepare-ti: paired task-irrelevant data (RGB + target modality) into a checked HDF5 pack."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from xmt.cli.declared import with_settings
from xmt.cli.output import emit, options_of
from xmt.cli.pack import NOT_RECORDED, PACKING, packing
from xmt.stages.prepare_ti import FORMATS, format_option_classes, run_prepare_ti


# every format's own options (sunrgbd's) are options; the stage hands --format its own
@with_settings(*format_option_classes(), shared=PACKING)
def command(
    source: Annotated[Optional[Path], typer.Option(help="RGB images of the generic paired layout, DIR/<class>/<file> "
                                                   "(with --target).")] = None,
    target: Annotated[Optional[Path], typer.Option(help="Target-modality images paired with --source by "
                                                   "<class>/<stem> (extensions may differ).")] = None,
    pairs: Annotated[Optional[Path], typer.Option(help="Pair list: 'rgb_path<TAB>target_path[<TAB>class]' a line, "
                                                  "paths relative to the list's folder or --root.")] = None,
    source_list: Annotated[Optional[Path], typer.Option(help="SOCKET's TI data: a list of RGB images, a path (and a "
                                                        "label, read and ignored) a line, paired line by line with "
                                                        "--target-list.")] = None,
    target_list: Annotated[Optional[Path], typer.Option(help="The list of target-modality images aligned line by "
                                                        "line with --source-list.")] = None,
    format_name: Annotated[Optional[str], typer.Option("--format", help=f"A published data set's layout under "
                                                       f"--root: {', '.join(FORMATS)}.")] = None,
    root: Annotated[Optional[Path], typer.Option(help="The data set's root (with --format; nyuv2: the labelled .mat "
                                                 "file), or the base of a list's relative paths (--pairs, "
                                                 "--source-list/--target-list; default: the list's folder).")] = None,
    modality: Annotated[Optional[str], typer.Option(help="Target modality: depth, nir or thermal (fixed by sunrgbd, "
                                                    "nyuv2 and rgbnir; inferred for synth when it holds one).")] = None,
    ti_classes: Annotated[Optional[str], typer.Option(help="Classes to pack as TI (the others are TR): a comma list, "
                                                      "a file with one class a line, or a folder of class folders.")] = None,
    tr_classes: Annotated[Optional[str], typer.Option(help="Task-relevant classes (same forms as --ti-classes); TI "
                                                      "pairs of these classes are a problem.")] = None,
    tr_lists: Annotated[Optional[Path], typer.Option(help="Folder to write the TR image lists into ([<sensor>/]"
                                                     "<modality>.txt, 'path<TAB>class' lines) for the other stages; "
                                                     "needs --protocol socket or --ti-classes.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Pack to write.")] = Path("ti.h5"),
    *,
    declared: dict,
    shared: dict,
) -> None:
    """Check paired TI data and pack it (RGB + target, row i one pair) into one HDF5 file."""
    options = options_of(locals(), drop=NOT_RECORDED)
    result = run_prepare_ti(out=out, source=source, target=target, pairs=pairs, source_list=source_list,
                            target_list=target_list, format_name=format_name, root=root, modality=modality,
                            format_options=declared, ti_classes=ti_classes, tr_classes=tr_classes,
                            tr_lists=tr_lists, cli_options=options, **packing(shared))
    if shared["json_output"]:
        emit({"pack": str(result.pack), "pairs": result.pairs, "classes": result.classes, "skipped": result.skipped,
              "tr_lists": result.tr_lists}, True)
    else:
        emit("\n".join([str(result.pack)] + ([str(tr_lists)] if tr_lists is not None else [])), False)
