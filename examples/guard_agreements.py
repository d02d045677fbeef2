"""What the teacher guard saw, scored: each of its predictors' true accuracy on the TR images beside the guard's
label-free estimate, and each one's chance-corrected agreement with the teacher (Cohen's kappa, chance taken
from the two predictors' own class frequencies). Labels are read here only to score.

    python guard_agreements.py --teacher bridge-unet/translated.h5 --with models/socket.safetensors \
        --with models/shot.safetensors --with bridge-light/translated.h5 --data target/adapt/depth \
        --modality depth --out scores/agreements-tgkt-guard.json

A teacher at chance agrees with every predictor that reads the data differently at kappa near 0; kappa well
above 0 with a predictor that is itself near chance means the two share mistakes, which the guard's
independence assumption reads as accuracy.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from example_files import write_json
from xmt.agreement import cohen_kappa, estimate_accuracies
from xmt.artifacts import load_model
from xmt.data.packs.translated import read_translated_pack
from xmt.data.sets.readers import open_image_set
from xmt.methods.evaluation import predict_labels


def predicted_classes(path: Path, data: Path, modality: str, classes: list[str], paths: list[str]) -> np.ndarray:
    """A predictor's class per TR image, in the order of `paths`: a translated pack's, or a model's on `data`.
    Images are matched by class folder and file name (the benchmark's layout), whatever folder a path starts at."""
    if path.suffix in (".h5", ".hdf5"):
        pack = read_translated_pack(path)
        by_path = {_key(p): c for p, c in zip(pack.paths, pack.probs.argmax(1))}
    else:
        loaded = load_model(path)
        rows = predict_labels(loaded, open_image_set(data, modality), torch.device("cpu"))
        by_path = {_key(row["path"]): classes.index(row["label"]) for row in rows}
    missing = [p for p in paths if _key(p) not in by_path]
    if missing:
        raise SystemExit(f"{path}: predicts other images than the teacher's pack (first missing: {missing[0]})")
    return np.array([by_path[_key(p)] for p in paths])


def _key(path: str) -> str:
    return "/".join(Path(path).parts[-2:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", type=Path, required=True, help="the bridge's translated.h5 that TGKT distils")
    parser.add_argument("--with", dest="others", type=Path, action="append", required=True,
                        help="the guard's other predictors, as given to transfer --guard-with")
    parser.add_argument("--data", type=Path, required=True, help="the TR images, labelled (to score only)")
    parser.add_argument("--modality", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    teacher = read_translated_pack(args.teacher)
    if (teacher.labels < 0).any():
        raise SystemExit(f"{args.teacher}: unlabelled TR images, nothing to score with")
    k = len(teacher.classes)
    predictions = [teacher.probs.argmax(1)] + [
        predicted_classes(p, args.data, args.modality, teacher.classes, teacher.paths) for p in args.others]
    estimated = estimate_accuracies(predictions, k).accuracies
    rows = [{"predictor": str(path), "true_accuracy": float((pred == teacher.labels).mean()),
             "estimated_accuracy": est, "kappa_with_teacher": cohen_kappa(predictions[0], pred, k)}
            for path, pred, est in zip([args.teacher, *args.others], predictions, estimated)]
    for row in rows:
        print(f"{row['predictor']}: true {row['true_accuracy']:.1%}, estimated {row['estimated_accuracy']:.1%}, "
              f"kappa with the teacher {row['kappa_with_teacher']:+.3f}")
    write_json(args.out, {"predictors": rows})


if __name__ == "__main__":
    main()
