"""`xmt pack` from files to files: one modality's images (a folder, list file or pack) in, a checked pack out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from xmt.data.packs.writer import COMPRESSIONS, PackResult, write_pack  # COMPRESSIONS: for the CLI's help
from xmt.data.sets.readers import drop_duplicates, open_image_set
from xmt.data.validation import Problems
from xmt.engine.console import warn
from xmt.engine.output_kinds import pack_of
from xmt.engine.outputs import Output, claim_outputs
from xmt.stages.inputs import read_classes


@dataclass
class PackOutputs:
    pack: Path
    count: int
    classes: list[str] | None
    skipped: int  # problem inputs --skip-bad left out


def run_pack(*, data: Path, modality: str, out: Path, size: int = 64, root: Path | None = None,
             classes_file: Path | None = None, depth_scale_mm: float | None = None, compression: str = "lzf",
             skip_bad: bool = False, workers: int = 0, force: bool = False,
             cli_options: dict | None = None) -> PackOutputs:
    data, root = data.absolute(), root and root.absolute()
    # root is only the base of a list's paths (often `.`), not an input to keep the pack out of
    with claim_outputs([Output(out, pack_of("images"))], inputs=[data], force=force) as claim:
        problems = Problems()
        images = open_image_set(data, modality, depth_scale_mm, root, problems, read_classes(classes_file))
        base = root or (data if data.is_dir() else data.parent)
        images = drop_duplicates(images, problems, base)
        provenance = {"format": images.kind, "options": cli_options or {}}
        if images.list_labels is not None:
            provenance["list_labels"] = images.list_labels
        result = write_pack(claim.temporary(out), {modality: images}, size, provenance,
                            root=base, compression=compression, workers=workers, problems=problems, skip_bad=skip_bad)
    report_skipped(result, "images", out)
    return PackOutputs(out, result.count, images.classes, len(result.problems))


def report_skipped(result: PackResult, what: str, out: Path) -> None:
    if result.problems:
        warn(f"--skip-bad left out {len(result.problems)} problem input(s); packed {result.count} {what}; "
             f"the problems are recorded in {out} (skipped/)")
