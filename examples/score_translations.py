"""Score the source model on translated target images: a translated pack's stored probabilities
against its stored labels (labels are read here only to score, as everywhere in xmt).

    python score_translations.py bridge/test.h5 --out scores.json

Beside the scores it keeps the teacher guard's label-free estimate of the accuracy from the translator's held-out
TI pairs (holdout_estimate), so that the tables can set it beside the true accuracy.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from example_files import write_json
from xmt.data.packs.translated import read_translated_pack
from xmt.engine.jsonlog import read_jsonl
from xmt.losses import marginal_entropy, mean_entropy
from xmt.engine.checkpoint import read_metadata
from xmt.methods.teacher import holdout_teacher_accuracy
from xmt.metrics import classification_metrics
from xmt.stages.teacher_guard import source_accuracy
from xmt.stages.translate import HOLDOUT_CHECK


def holdout_estimate(pack) -> dict | None:
    """The teacher guard's label-free estimate of the teacher from the translator's held-out TI pairs (recorded
    in the pack by bridge), with the source model's RGB accuracy it scales; None for a pack without them."""
    inputs = pack.provenance.get("inputs", {})
    check = inputs.get("translator", {}).get(HOLDOUT_CHECK) or {}
    source = Path(inputs.get("source_model", {}).get("path", ""))
    if "source_kappa" not in check or not source.is_file():
        return None
    accuracy, _ = source_accuracy(read_metadata(source))
    return {**check, "source_accuracy": accuracy,
            "estimate": holdout_teacher_accuracy(check["source_kappa"], accuracy, len(pack.classes))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pack", type=Path, help="a translated pack (bridge's translated.h5, or xmt translate's)")
    parser.add_argument("--out", type=Path, required=True, help="metrics as JSON")
    parser.add_argument("--log", type=Path, help="the bridge's bridge.jsonl: its last record is kept beside the "
                        "metrics (the log itself is not committed; the tables read its held-out figures from here)")
    args = parser.parse_args()
    pack = read_translated_pack(args.pack)
    if (pack.labels < 0).any():
        raise SystemExit(f"{args.pack}: unlabelled images, nothing to score with")
    metrics = classification_metrics(pack.labels, pack.probs.argmax(1), pack.classes)
    probs = torch.from_numpy(pack.probs)
    metrics.update(data=str(args.pack), mean_entropy=mean_entropy(probs).item(),
                   marginal_entropy=marginal_entropy(probs).item())
    metrics["holdout_estimate"] = holdout_estimate(pack)
    if args.log is not None:
        records = [r for r in read_jsonl(args.log) if "epoch" in r]
        metrics["bridge_last_epoch"] = records[-1] if records else None
    write_json(args.out, metrics)


if __name__ == "__main__":
    main()
