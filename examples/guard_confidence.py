"""Does the guard's held-out estimate of the teacher follow it better on the TI pairs the source model reads
confidently? For every round of a bridge run (xmt bridge --save-epochs): the teacher's true accuracy on the TR
images (their labels read here only to score) beside the held-out estimate (methods/teacher.py) made from all the
held-out TI pairs, and from the half and the quarter whose RGB the source model reads most confidently.

    python guard_confidence.py bridge-unet --source-model source.safetensors --ti ti.h5 \
        --tr-target bench/target/adapt/depth --out scores/confidence-unet.json
    python guard_confidence.py --table scores/confidence-*.json   # a markdown table of such files

Why ask: the source model reads the TI classes' RGB less confidently than the TR images' own (the fidelity
table), and its less confident readings flip more easily under translation, so the estimate under-reads.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from example_files import write_json
from xmt.agreement import cohen_kappa
from xmt.artifacts import load_model, load_translator
from xmt.data.batches import NativeImages, load_native
from xmt.data.sets.readers import open_image_set
from xmt.methods.inference import predict, translate_all
from xmt.methods.teacher import holdout_teacher_accuracy
from xmt.methods.tgmb import split_holdout
from xmt.stages.inputs import open_ti_pack
from xmt.stages.teacher_guard import source_accuracy

CPU = torch.device("cpu")
# the share of the held-out pairs kept, most confidently read first
SHARES = (1.0, 0.5, 0.25)


def confident_estimate(real_probs: np.ndarray, fake_probs: np.ndarray, share: float, source_acc: float) -> float:
    """The held-out estimate of the teacher from the `share` of the pairs whose real RGB the source model reads
    most confidently: Cohen's kappa of its readings of translation and RGB there, scaled to its RGB accuracy."""
    confidence = real_probs.max(1)
    keep = np.argsort(-confidence, kind="stable")[:max(1, round(share * len(confidence)))]
    kappa = cohen_kappa(fake_probs[keep].argmax(1), real_probs[keep].argmax(1), real_probs.shape[1])
    return holdout_teacher_accuracy(kappa, source_acc, real_probs.shape[1])


def score_rounds(args: argparse.Namespace) -> None:
    source = load_model(args.source_model, kinds=("source-model",))
    rounds = sorted((args.bridge / "epochs").glob("translator-e*.safetensors"))
    if not rounds:
        raise SystemExit(f"{args.bridge}: no epochs/ folder; run xmt bridge with --save-epochs")
    first = load_translator(rounds[0])
    recipe, config = first.target_recipe, first.meta["config"]
    ti_rgb, ti_target = open_ti_pack(args.ti, recipe.modality, recipe.size)
    _, held_out = split_holdout(len(ti_rgb.paths), config["holdout_fraction"], config["seed"])
    real = predict(source.model, source.recipe, load_native(ti_rgb, source.recipe, 0), CPU)[0].numpy()[held_out]
    target = load_native(ti_target, recipe, 0)
    held_out_target = NativeImages(target.images[held_out], target.labels[held_out],
                                   [target.paths[i] for i in held_out])
    tr = open_image_set(args.tr_target, recipe.modality)
    labels = np.array([source.classes.index(Path(p).parent.name) for p in tr.paths])
    tr_target = load_native(tr, recipe, 0)
    accuracy, _ = source_accuracy(source.meta)

    def read(translator, images) -> np.ndarray:
        return np.asarray(translate_all(translator, source.model, recipe, source.recipe, images, CPU)[1])

    records = []
    for path in rounds:
        translator = load_translator(path).translator
        fake = read(translator, held_out_target)
        records.append({"round": int(path.stem.split("-e")[1]),
                        "teacher_accuracy": float(np.mean(read(translator, tr_target).argmax(1) == labels)),
                        "estimates": {str(s): confident_estimate(real, fake, s, accuracy) for s in SHARES}})
    write_json(args.out, {"bridge": str(args.bridge), "steps_per_round": config.get("eval_every"),
                          "source_accuracy": accuracy, "held_out_pairs": len(real), "rounds": records})


def bridge_name(bridge: str) -> str:
    """`nir, seed 100, unet` for .../nir/seed100/ti240/bridge-unet."""
    parts = Path(bridge).parts
    seed = next(i for i, part in enumerate(parts) if part.startswith("seed"))
    return f"{parts[seed - 1]}, seed {parts[seed][4:]}, `{parts[-1].removeprefix('bridge-')}`"


def table(paths: list[Path], command: str) -> str:
    """One row a bridge: the teacher's true accuracy over its rounds beside, for each estimate, its mean share of
    the truth over the rounds and their correlation (how far and how well it follows the teacher)."""
    lines = [f"Made by `{command}`. Each estimate: its mean over the rounds as a share of the teacher's true accuracy, "
             "and the correlation r of the two over the rounds.", "",
             "| bridge | rounds | teacher on TR (%): lowest-highest (last) | " + " | ".join(
                 "estimate from all held-out TI pairs" if s == 1.0 else f"from the most confidently read {s:.0%}"
                 for s in SHARES) + " |", "|---|---:|---:|" + "---:|" * len(SHARES)]
    for path in paths:
        found = json.loads(path.read_text())
        truth = np.array([r["teacher_accuracy"] for r in found["rounds"]])
        cells = []
        for share in SHARES:
            estimate = np.array([r["estimates"][str(share)] for r in found["rounds"]])
            cells.append(f"{np.mean(estimate / truth):.2f} of it, r = {np.corrcoef(truth, estimate)[0, 1]:+.2f}")
        lines.append(f"| {bridge_name(found['bridge'])} | {len(truth)} | {100 * truth.min():.1f}-{100 * truth.max():.1f} "
                     f"({100 * truth[-1]:.1f}) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bridge", type=Path, nargs="?", help="a bridge folder written with --save-epochs")
    parser.add_argument("--source-model", type=Path)
    parser.add_argument("--ti", type=Path, help="the TI pack the bridge trained on")
    parser.add_argument("--tr-target", type=Path, help="the labelled TR images (labels read only to score)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--table", type=Path, nargs="+", help="print a markdown table of these files instead")
    parser.add_argument("--command", default="make -C examples budget-study PRESET=paper64",
                        help="the command the table says made it")
    args = parser.parse_args()
    if args.table:
        print(table(args.table, args.command), end="")
    elif args.bridge and args.source_model and args.ti and args.tr_target and args.out:
        score_rounds(args)
    else:
        parser.error("give a bridge folder with --source-model, --ti, --tr-target and --out, or --table FILES")


if __name__ == "__main__":
    main()
