"""A constructed good teacher, to see what the teacher guard does with one: the source model on the TR images' own
target-camera RGB, as a perfect translator would give it. Synth benchmark only (the setting never has this RGB);
a diagnostic for the guard, not a method. No label is read.

    python oracle_teacher.py --source-model source.safetensors --tr-rgb bench/target/adapt/rgb \
        --tr-target bench/target/adapt/nir --modality nir --out bridge-oracle/translated.h5

Writes a translated pack that transfer --translated reads like a bridge's: the RGB as the "translations", the
source model's probabilities and features on them, and as the translator's held-out TI figures those of a perfect
translator (its translations are the RGB: the source model reads every pair the same; counted over the TR images).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from example_files import check_same_layout
from xmt.artifacts import load_model
from xmt.data.batches import load_native
from xmt.data.packs.translated import write_translated_pack
from xmt.data.sets.readers import open_image_set
from xmt.methods.inference import predict
from xmt.stages.inputs import open_target_images, scoring_labels
from xmt.stages.translate import HOLDOUT_CHECK


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-model", type=Path, required=True)
    parser.add_argument("--tr-rgb", type=Path, required=True, help="the target camera's RGB of the TR images")
    parser.add_argument("--tr-target", type=Path, required=True, help="the TR images, in the same layout")
    parser.add_argument("--modality", required=True, help="the TR images' modality (depth, nir)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    source = load_model(args.source_model, kinds=("source-model",))
    size = source.recipe.size
    tr_set = open_target_images(args.tr_target, args.modality, size)
    rgb_set = open_image_set(args.tr_rgb, "rgb")
    check_same_layout(rgb_set.paths, args.tr_rgb, tr_set.paths, args.tr_target)
    rgb = load_native(rgb_set, source.recipe)
    probs, features = predict(source.model, source.recipe, rgb, torch.device("cpu"))
    made_by = {"path": f"oracle: {args.tr_rgb}", "sha256": None,
               HOLDOUT_CHECK: {"pairs": len(rgb_set), "source_agreement": 1.0, "source_kappa": 1.0}}
    provenance = {"inputs": {"source_model": {"path": str(source.path), "sha256": source.sha256},
                             "translator": made_by, "target_data": tr_set.provenance()}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")  # whole or not at all, as xmt's own outputs
    write_translated_pack(tmp, rgb.images.numpy(), probs.numpy(), features.numpy(),
                          scoring_labels(tr_set, source.classes), list(tr_set.paths), source.classes, provenance)
    tmp.replace(args.out)


if __name__ == "__main__":
    main()
