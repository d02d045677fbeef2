"""How much of the source model's reading a bridge's translations keep, on the pairs the teacher guard reads and on
the TR images the guard's estimate stands for. Synth benchmark only: it reads the target camera's RGB of the TR
images, which the setting never has (no method reads it; the labels are not read at all).

    python teacher_fidelity.py bridge-unet --source-model source.safetensors --ti ti.h5 \
        --tr-rgb bench/target/adapt/rgb --tr-target bench/target/adapt/depth --out scores/fidelity-unet.json

For the bridge's kept translator: how often the source model reads a translation as it reads the paired RGB, raw
and as Cohen's kappa, and the source model's median confidence on that RGB. On three sets: the held-out TI pairs
(what the guard's estimate reads), the TI pairs the bridge trained on, and the TR images beside their own RGB.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from example_files import check_same_layout, write_json
from xmt.agreement import cohen_kappa
from xmt.artifacts import load_model, load_translator
from xmt.data.batches import load_native
from xmt.data.sets.readers import open_image_set
from xmt.methods.inference import predict, translate_all
from xmt.methods.tgmb import split_holdout
from xmt.stages.inputs import open_ti_pack

CPU = torch.device("cpu")


def kept(real: np.ndarray, fake: np.ndarray) -> dict:
    """The source model's readings (probabilities) of real RGB and of its translations, compared."""
    a, b = real.argmax(1), fake.argmax(1)
    return {"count": len(a), "agreement": float(np.mean(a == b)), "kappa": cohen_kappa(b, a, real.shape[1]),
            "median_confidence": float(np.median(real.max(1)))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bridge", type=Path, help="a bridge folder (translator.safetensors)")
    parser.add_argument("--source-model", type=Path, required=True)
    parser.add_argument("--ti", type=Path, required=True, help="the TI pack the bridge trained on")
    parser.add_argument("--tr-rgb", type=Path, required=True, help="the target camera's RGB of the TR images")
    parser.add_argument("--tr-target", type=Path, required=True, help="the TR images, in the same layout")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    source = load_model(args.source_model, kinds=("source-model",))
    translator = load_translator(args.bridge / "translator.safetensors")
    modality, size, config = translator.target_recipe.modality, translator.target_recipe.size, translator.meta["config"]

    def readings(rgb_set, target_set) -> tuple[np.ndarray, np.ndarray]:
        real, _ = predict(source.model, source.recipe, load_native(rgb_set, source.recipe, 0), CPU)
        _, fake, _ = translate_all(translator.translator, source.model, translator.target_recipe, source.recipe,
                                   load_native(target_set, translator.target_recipe, 0), CPU)
        return real.numpy(), np.asarray(fake)

    ti_real, ti_fake = readings(*open_ti_pack(args.ti, modality, size))
    trained, held_out = split_holdout(len(ti_real), config["holdout_fraction"], config["seed"])
    tr_rgb, tr_target = open_image_set(args.tr_rgb, "rgb"), open_image_set(args.tr_target, modality)
    check_same_layout(tr_rgb.paths, args.tr_rgb, tr_target.paths, args.tr_target)
    tr_real, tr_fake = readings(tr_rgb, tr_target)
    write_json(args.out, {"bridge": str(args.bridge), "ti_held_out": kept(ti_real[held_out], ti_fake[held_out]),
                          "ti_trained": kept(ti_real[trained], ti_fake[trained]), "tr": kept(tr_real, tr_fake)})


if __name__ == "__main__":
    main()
