"""What TGKT's teacher guard decided, as a guarded target model stores it (`transfer --guard-with`).

    python guard_record.py models/tgkt-guard.safetensors --out scores/guard-tgkt-guard.json

Writes {guard_weight, guard_teacher_accuracy (guard_teacher_accuracy_holdout where the bridge held TI pairs out,
else guard_teacher_accuracy_agreement), guard_other_accuracies, beta_kl}: the estimated accuracies
are label-free; results_table.py sets them beside the teacher's true accuracy (scores/teacher-*.json).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from example_files import write_json
from xmt.artifacts import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="a target model trained with --guard-with")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    config = load_model(args.model).meta["config"]
    if "guard" not in config:
        raise SystemExit(f"{args.model}: trained without --guard-with, no guard decision to record")
    record = {**config["guard"], "beta_kl": config["objective"]["beta_kl"]}
    write_json(args.out, record)


if __name__ == "__main__":
    main()
