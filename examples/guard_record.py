"""What TGKT's teacher guard decided, as a guarded target model stores it (`transfer --guard-with`).

    python guard_record.py models/tgkt-guard.safetensors --out scores/guard-tgkt-guard.json

Writes {guard_weight, guard_teacher_accuracy, guard_other_accuracies, beta_kl}: the estimated accuracies
are label-free; results_table.py sets them beside the teacher's true accuracy (scores/teacher-*.json).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

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
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2))
    tmp.replace(args.out)


if __name__ == "__main__":
    main()
