"""Score every epoch's translator of a bridge run (xmt bridge --save-epochs) on labelled target images, beside
that epoch's label-free figures from bridge.jsonl: the data for choosing a translator-selection rule on
development seeds. Labels are read here only to score.

    python score_epochs.py runs/.../bridge-unet --source-model source.safetensors --data target/test/depth \
        --out scores/epochs-unet.json
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from example_files import write_json
from xmt.data.packs.translated import read_translated_pack
from xmt.engine.jsonlog import read_jsonl
from xmt.stages.translate import run_translate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bridge", type=Path, help="a bridge folder written with --save-epochs")
    parser.add_argument("--source-model", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True, help="labelled target images to score on")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--every", type=int, default=1, help="score every Nth epoch (and the last)")
    args = parser.parse_args()
    records = {r["epoch"]: r for r in read_jsonl(args.bridge / "bridge.jsonl") if "epoch" in r}
    translators = sorted((args.bridge / "epochs").glob("translator-e*.safetensors"))
    if not translators:
        raise SystemExit(f"{args.bridge}: no epochs/ folder; run xmt bridge with --save-epochs")
    last = translators[-1]
    translators = [p for p in translators if _epoch(p) % args.every == 0 or p == last]
    epochs = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in translators:
            epoch = _epoch(path)
            pack = Path(tmp) / f"{epoch}.h5"
            run_translate(translator_path=path, source_model=args.source_model, data=args.data, out=pack,
                          device=torch.device("cpu"))
            scored = read_translated_pack(pack)
            accuracy = float((scored.probs.argmax(1) == scored.labels).mean())
            epochs.append({**records.get(epoch, {}), "epoch": epoch, "test_accuracy": accuracy})
    write_json(args.out, {"bridge": str(args.bridge), "epochs": epochs})


def _epoch(path: Path) -> int:
    return int(path.stem.split("-e")[1])


if __name__ == "__main__":
    main()
