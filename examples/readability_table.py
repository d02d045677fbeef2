"""A markdown table of what the source models read (make readability): each model's accuracy on the target camera's
RGB test images, degraded as degraded_rgb.py does, with each degradation's PSNR; mean over the seeds found.

    python readability_table.py results/ti-study --tasks "depth-kv1 nir" --seeds "100 101 102" \
        --variants "crop25 crop08 crop25-e30 big160 big160-crop25"

Reads RUNS/<task>/seed<seed>/scores/degraded-rgb.json (the study's source model) and degraded-rgb-<variant>.json.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from results_table import read_json

VARIANTS = {"": "cpu64's source model (10 epochs, 40 images a class)",
            "crop25": "+ random resized crops, area >= 0.25", "crop08": "+ random resized crops, area >= 0.08",
            "crop25-e30": "+ crops (area >= 0.25), 30 epochs", "big160": "160 images a class",
            "big160-crop25": "160 images a class + crops (area >= 0.25)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path)
    parser.add_argument("--tasks", required=True)
    parser.add_argument("--seeds", required=True)
    parser.add_argument("--variants", default="")
    parser.add_argument("--command", default="make -C examples readability PRESET=cpu64")
    args = parser.parse_args()
    variants = [""] + args.variants.split()
    for task in args.tasks.split():
        found = {v: [read_json(args.runs / task / f"seed{s}" / "scores" / f"degraded-rgb{'-' + v if v else ''}.json")
                     for s in args.seeds.split()] for v in variants}
        found = {v: [r for r in records if r is not None] for v, records in found.items()}
        found = {v: records for v, records in found.items() if records}
        if not found:
            continue
        first = next(iter(found.values()))[0]
        names = [row["degradation"] for row in first["rows"]]
        psnr = {row["degradation"]: row["psnr"] for row in first["rows"]}
        print(f"### {task}: the source model on its target camera's RGB test images, degraded\n")
        print(f"Accuracy (%), mean over the seeds found (n); made by `{args.command}`.\n")
        print("| degradation | PSNR (dB, first seed) | " + " | ".join(f"{VARIANTS.get(v, v)} (n={len(r)})" for v, r in found.items())
              + " |")
        print("|---|---:|" + "---:|" * len(found))
        for name in names:
            cells = []
            for records in found.values():
                values = [100 * row["accuracy"] for r in records for row in r["rows"] if row["degradation"] == name]
                cells.append(f"{statistics.mean(values):.1f}" if values else "–")
            db = "–" if psnr[name] is None else f"{psnr[name]:.1f}"
            print(f"| {name} | {db} | " + " | ".join(cells) + " |")
        print()


if __name__ == "__main__":
    main()
