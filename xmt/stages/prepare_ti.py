"""`xmt prepare-ti` from files to files: paired TI images in, a checked pack (and the TR classes' lists) out."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from xmt.data.modalities import TARGET_MODALITIES
from xmt.data.packs.writer import write_pack
from xmt.data.sets.adapters import (FORMATS, AdapterOptions, Found, find_pairs,  # FORMATS: for the CLI's help
                                    format_option_classes, own_options)  # noqa: F401 (the CLI's options)
from xmt.data.sets.class_split import choose_ti, read_class_list
from xmt.data.sets.pairing import pair_folders, read_aligned_lists, read_pair_list
from xmt.data.sets.tr_lists import write_tr_lists
from xmt.data.validation import Problems
from xmt.engine.console import info
from xmt.engine.output_kinds import TR_LISTS_FOLDER, pack_of
from xmt.engine.outputs import Output, claim_outputs
from xmt.errors import UserError
from xmt.stages.pack import report_skipped


@dataclass
class TiOutputs:
    pack: Path
    pairs: int
    classes: list[str]  # the TI classes packed
    skipped: int  # problem pairs --skip-bad left out
    tr_lists: dict[str, dict[str, str]]  # {group: {modality: path}} of each TR list written


def run_prepare_ti(*, out: Path, source: Path | None = None, target: Path | None = None, pairs: Path | None = None,
                   source_list: Path | None = None, target_list: Path | None = None, format_name: str | None = None,
                   root: Path | None = None, modality: str | None = None, format_options: dict | None = None,
                   ti_classes: str | None = None, tr_classes: str | None = None,
                   tr_lists: Path | None = None, size: int = 64, depth_scale_mm: float | None = None,
                   compression: str = "lzf", skip_bad: bool = False, workers: int = 0, force: bool = False,
                   cli_options: dict | None = None) -> TiOutputs:
    """Pair the one input given, set the TR classes apart (writing their lists into `tr_lists`), pack the rest.
    `format_options`: the formats' own options (sunrgbd's sensors and protocol), of which --format's are used."""
    _check_options(source or target, pairs, source_list or target_list, format_name, modality)
    own = own_options(format_name, format_options or {})  # another format's options are refused here
    source, target, pairs, source_list, target_list, root = (
        None if p is None else p.absolute() for p in (source, target, pairs, source_list, target_list, root))
    outputs = [Output(out, pack_of("images")), tr_lists and Output(tr_lists, TR_LISTS_FOLDER)]
    # a list's --root is only the base of its paths (often `.`), not an input to keep outputs out of
    inputs = [source, target, pairs, source_list, target_list, root if format_name else None]
    with claim_outputs(outputs, inputs=inputs, force=force) as claim:
        problems = Problems()
        if source_list or target_list:
            found, base = _find_lists(source_list, target_list, root, modality, depth_scale_mm, problems)
        else:
            found, base = _find(source, target, pairs, format_name, root, modality, own, depth_scale_mm, problems)
        ti, tr = _split(found, ti_classes, tr_classes, tr_lists is not None, base, problems)
        lists = write_tr_lists(tr, claim.temporary(tr_lists), problems, workers) if tr_lists is not None else {}
        provenance = {"format": format_name or ("pair-list" if pairs else "lists" if source_list else "folders"),
                      "options": cli_options or {}}
        result = write_pack(claim.temporary(out), ti.image_sets(), size, provenance, root=base,
                            compression=compression, workers=workers, problems=problems, skip_bad=skip_bad)
    report_skipped(result, "pairs", out)
    lists = {group: {m: str(tr_lists / path) for m, path in by_modality.items()}
             for group, by_modality in lists.items()}
    return TiOutputs(out, result.count, ti.classes, len(result.problems), lists)


def _check_options(folders, pairs, lists, format_name, modality) -> None:
    """One input, and a known modality, before anything is read."""
    given = [name for name, value in (("--source/--target", folders), ("--pairs", pairs),
                                      ("--source-list/--target-list", lists), ("--format", format_name)) if value]
    if len(given) != 1:
        raise UserError("give one input: --source and --target, --pairs, --source-list and --target-list, "
                        "or --format with --root"
                        + (f" (got {' and '.join(given)})" if given else ""))
    if modality is not None and modality not in TARGET_MODALITIES:
        raise UserError(f"--modality {modality!r}: expected one of {', '.join(TARGET_MODALITIES)}")


def _split(found: Found, ti_classes, tr_classes, writes_tr_lists: bool, base: Path, problems: Problems):
    """(TI pairs, TR pairs or None): the classes chosen as TI, and the task-relevant ones set apart."""
    ti, tr = choose_ti(found, ti_classes and read_class_list(ti_classes, "--ti-classes"),
                       tr_classes and read_class_list(tr_classes, "--tr-classes"), problems)
    if writes_tr_lists and not (tr and len(tr)):
        raise UserError("--tr-lists needs TR classes: give --ti-classes (leaving some classes out), or "
                        "--protocol socket with --format sunrgbd")
    if not len(ti) and not problems:
        apart = f" once the TR classes ({', '.join(tr.classes)}) are set apart" if tr is not None else ""
        raise UserError(f"no TI pairs are left{apart}", path=base)
    if tr is not None:
        info(f"{len(tr)} TR pairs set apart from the TI data (classes: {', '.join(tr.classes)})")
    return ti, tr


def _find(source, target, pairs, format_name, root, modality, own, depth_scale,
          problems: Problems) -> tuple[Found, Path]:
    """The pairs of whichever input was given, and the root their paths are relative to."""
    if format_name is not None:
        if root is None:
            raise UserError(f"--format {format_name} needs --root (the data set's folder or file)")
        return find_pairs(format_name, root, AdapterOptions(modality, depth_scale, own), problems), root
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


def _find_lists(source_list, target_list, root, modality, depth_scale, problems: Problems) -> tuple[Found, Path]:
    """SOCKET's two aligned TI lists, and the root their paths are relative to."""
    if source_list is None or target_list is None:
        raise UserError("SOCKET's TI lists need both --source-list (RGB) and --target-list")
    if modality is None:
        raise UserError("--modality is required with --source-list/--target-list (depth, nir or thermal)")
    pairs = read_aligned_lists(source_list, target_list, modality, depth_scale, root, problems)
    return Found(pairs), root or Path(os.path.commonpath([source_list.parent, target_list.parent]))
