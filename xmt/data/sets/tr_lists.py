"""Task-relevant (TR) image lists: the labelled images other stages train on and evaluate with.

For every group (a SUN RGB-D sensor; one group otherwise) and modality, a list file of
`path<TAB>class` lines that `open_image_set` reads. Every TR pair is decoded and checked as
TI pairs are. Where plain reading of the original file would give wrong values (SUN RGB-D's
bit-rotated depth, images inside NYU's .mat, depth needing --depth-scale) the list points to a
copy in native units written beside it (PNG: 8-bit RGB, 16-bit millimetres, grey NIR/thermal);
otherwise it points to the original file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from xmt.data.sets.pairing import Pairs
from xmt.data.sets.rows import RowBlock, RowReader
from xmt.data.validation import Problems
from xmt.engine.console import progress_bar

UNGROUPED = ""


class _RowCopier(RowReader):
    """Checks TR rows at full size and writes the copies of sides that need one."""

    def __init__(self, pairs: Pairs, copies: dict[str, list[Path | None]]):
        super().__init__(pairs.image_sets(), size=None)
        self.copies = copies

    def read_row_block(self, start: int, stop: int) -> RowBlock:
        rows, problems = [], Problems()
        for index in range(start, stop):
            row = self._read_row(index, problems)
            if row is None:
                continue
            for modality, destinations in self.copies.items():
                Image.fromarray(np.ascontiguousarray(row[modality])).save(destinations[index])
            rows.append(index)
        return RowBlock(start, stop, rows, {}, problems.items)


def write_tr_lists(pairs: Pairs, out_dir: Path, problems: Problems, workers: int = 0) -> dict[str, dict[str, str]]:
    """Write the lists (and copies) into `out_dir`; returns {group: {modality: list file relative to it}}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sets = pairs.image_sets()
    groups = pairs.groups or [UNGROUPED] * len(pairs)
    names = pairs.class_names()
    copies: dict[str, list[Path | None]] = {}
    for modality, image_set in sets.items():
        if image_set.files_read_plainly:
            continue
        copies[modality] = [out_dir / group / modality / (names[i] or "") / f"{i:06d}_{Path(p).stem}.png"
                            for i, (group, p) in enumerate(zip(groups, image_set.paths))]
        for folder in {d.parent for d in copies[modality]}:
            folder.mkdir(parents=True, exist_ok=True)
    kept: list[int] = []
    with progress_bar("checking TR pairs", len(pairs)) as bar:
        for block in _RowCopier(pairs, copies).blocks(workers):
            for problem in block.problems:
                problems.add(problem.path, problem.what)
            kept += block.rows
            bar.advance(block.stop - block.start)
    written: dict[str, dict[str, str]] = {}
    for group in sorted(set(groups)):
        rows = [i for i in kept if groups[i] == group]
        (out_dir / group).mkdir(parents=True, exist_ok=True)
        for modality, image_set in sets.items():
            list_file = out_dir / group / f"{modality}.txt"
            lines = []
            for i in rows:
                path = copies[modality][i].relative_to(list_file.parent) if modality in copies else \
                    Path(image_set.paths[i]).resolve()
                lines.append(f"{path}\t{names[i]}" if names[i] is not None else f"{path}")
            list_file.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
            written.setdefault(group or "tr", {})[modality] = str(list_file.relative_to(out_dir))
    # says what the folder is, so that a later `prepare-ti --force` knows it may replace it
    (out_dir / "manifest.json").write_text(json.dumps({"format": "xmt-tr-lists", "tr_lists": written}, indent=2))
    return written
