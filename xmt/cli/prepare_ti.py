"""xmt prepare-ti: paired task-irrelevant data (RGB + target modality) into a checked HDF5 pack."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from xmt.cli.common import (ConfigOption, DepthScaleOption, ForceOption, JsonOption, QuietOption, emit, options_of,
                            setup)
from xmt.cli.pack import CompressionOption, PackWorkersOption, SizeOption, SkipBadOption, report_skipped
from xmt.data.adapters import FORMATS, PROTOCOLS, AdapterOptions, Found, find_pairs
from xmt.data.class_split import choose_ti, read_class_list
from xmt.data.modalities import TARGET_MODALITIES
from xmt.data.packs import write_pack
from xmt.data.pairing import pair_folders, read_aligned_lists, read_pair_list
from xmt.data.tr_lists import write_tr_lists
from xmt.data.validation import Problems
from xmt.engine.output_kinds import TR_LISTS_FOLDER, pack_of
from xmt.engine.outputs import Output, claim_outputs
from xmt.engine.console import info
from xmt.errors import UserError


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
    sensors: Annotated[Optional[str], typer.Option(help="sunrgbd: comma list of sensors to read "
                                                   "(default: kv1,kv2,realsense,xtion).")] = None,
    protocol: Annotated[str, typer.Option(help="sunrgbd: 'socket' makes the scene classes found for every selected "
                                          "sensor task-relevant and packs the other classes as TI (SOCKET's split); "
                                          "'none' packs every pair.")] = "none",
    ti_classes: Annotated[Optional[str], typer.Option(help="Classes to pack as TI (the others are TR): a comma list, "
                                                      "a file with one class a line, or a folder of class folders.")] = None,
    tr_classes: Annotated[Optional[str], typer.Option(help="Task-relevant classes (same forms as --ti-classes); TI "
                                                      "pairs of these classes are a problem.")] = None,
    tr_lists: Annotated[Optional[Path], typer.Option(help="Folder to write the TR image lists into ([<sensor>/]"
                                                     "<modality>.txt, 'path<TAB>class' lines) for the other stages; "
                                                     "needs --protocol socket or --ti-classes.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Pack to write.")] = Path("ti.h5"),
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
    """Check paired TI data and pack it (RGB + target, row i one pair) into one HDF5 file."""
    options = options_of(locals(), drop=("config", "quiet", "json_output", "force", "workers", "out"))
    setup(quiet)
    given = [name for name, value in (("--source/--target", source or target), ("--pairs", pairs),
                                      ("--source-list/--target-list", source_list or target_list),
                                      ("--format", format_name)) if value]
    if len(given) != 1:
        raise UserError("give one input: --source and --target, --pairs, --source-list and --target-list, "
                        "or --format with --root"
                        + (f" (got {' and '.join(given)})" if given else ""))
    if modality is not None and modality not in TARGET_MODALITIES:
        raise UserError(f"--modality {modality!r}: expected one of {', '.join(TARGET_MODALITIES)}")
    if protocol not in PROTOCOLS:
        raise UserError(f"--protocol {protocol!r}: expected one of {', '.join(PROTOCOLS)}")
    source, target, pairs, source_list, target_list, root = (
        None if p is None else p.absolute() for p in (source, target, pairs, source_list, target_list, root))
    outputs = [Output(out, pack_of("images")), tr_lists and Output(tr_lists, TR_LISTS_FOLDER)]
    # a list's --root is only the base of its paths (often `.`), not an input to keep outputs out of
    inputs = [source, target, pairs, source_list, target_list, root if format_name else None]
    with claim_outputs(outputs, inputs=inputs, force=force) as claim:
        problems = Problems()
        if source_list or target_list:
            found, base = _find_lists(source_list, target_list, root, modality, sensors or protocol != "none",
                                      depth_scale, problems)
        else:
            found, base = _find(source, target, pairs, format_name, root, modality, sensors, protocol, depth_scale,
                                problems)
        ti, tr = choose_ti(found, ti_classes and read_class_list(ti_classes, "--ti-classes"),
                           tr_classes and read_class_list(tr_classes, "--tr-classes"), problems)
        if tr_lists is not None and not (tr and len(tr)):
            raise UserError("--tr-lists needs TR classes: give --ti-classes (leaving some classes out), or "
                            "--protocol socket with --format sunrgbd")
        if not len(ti) and not problems:
            apart = f" once the TR classes ({', '.join(tr.classes)}) are set apart" if tr is not None else ""
            raise UserError(f"no TI pairs are left{apart}", path=base)
        if tr is not None:
            info(f"{len(tr)} TR pairs set apart from the TI data (classes: {', '.join(tr.classes)})")
        lists = write_tr_lists(tr, claim.temporary(tr_lists), problems, workers) if tr_lists is not None else {}
        provenance = {"format": format_name or ("pair-list" if pairs else "lists" if source_list else "folders"),
                      "options": options}
        result = write_pack(claim.temporary(out), ti.image_sets(), size, provenance, root=base,
                            compression=compression, workers=workers, problems=problems, skip_bad=skip_bad)
    report_skipped(result, "pairs", out)
    lists = {group: {m: str(tr_lists / path) for m, path in by_modality.items()} for group, by_modality in lists.items()}
    if json_output:
        emit({"pack": str(out), "pairs": result.count, "classes": ti.classes, "skipped": len(result.problems),
              "tr_lists": lists}, True)
    else:
        emit("\n".join([str(out)] + ([str(tr_lists)] if tr_lists is not None else [])), False)


def _find(source, target, pairs, format_name, root, modality, sensors, protocol, depth_scale,
          problems: Problems) -> tuple[Found, Path]:
    """The pairs of whichever input was given, and the root their paths are relative to."""
    if format_name is not None:
        if root is None:
            raise UserError(f"--format {format_name} needs --root (the data set's folder or file)")
        options = AdapterOptions(modality, depth_scale, sensors and [s.strip() for s in sensors.split(",")], protocol)
        return find_pairs(format_name, root, options, problems), root
    if sensors is not None or protocol != "none":
        raise UserError("--sensors and --protocol apply to --format sunrgbd only")
    if modality is None:
        raise UserError("--modality is required with --source/--target or --pairs (depth, nir or thermal)")
    if pairs is not None:
        return Found(read_pair_list(pairs, modality, depth_scale, root, problems)), root or pairs.parent
    if source is None or target is None:
        raise UserError("the paired layout needs both --source (RGB) and --target folders")
    if root is not None:
        raise UserError("--root applies to --format and --pairs (and --source-list/--target-list), "
                        "not to --source/--target")
    return Found(pair_folders(source, target, modality, depth_scale, problems)), \
        Path(os.path.commonpath([source, target]))


def _find_lists(source_list, target_list, root, modality, sunrgbd_options, depth_scale,
                problems: Problems) -> tuple[Found, Path]:
    """SOCKET's two aligned TI lists, and the root their paths are relative to."""
    if sunrgbd_options:
        raise UserError("--sensors and --protocol apply to --format sunrgbd only")
    if source_list is None or target_list is None:
        raise UserError("SOCKET's TI lists need both --source-list (RGB) and --target-list")
    if modality is None:
        raise UserError("--modality is required with --source-list/--target-list (depth, nir or thermal)")
    pairs = read_aligned_lists(source_list, target_list, modality, depth_scale, root, problems)
    return Found(pairs), root or Path(os.path.commonpath([source_list.parent, target_list.parent]))
