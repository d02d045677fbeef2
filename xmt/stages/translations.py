"""A translated pack read against the stage's own inputs: it must translate these TR images, in this order,
for this source model."""

from __future__ import annotations

from pathlib import Path

import torch

from xmt.data.packs.translated import read_translated_pack
from xmt.data.sets.image_set import ImageSet
from xmt.errors import UserError
from xmt.artifacts import LoadedModel


def check_translations(path: Path, source: LoadedModel, tr_set: ImageSet) -> torch.Tensor:
    """The source model's (N_tr, K) probabilities on the translations, once the pack is known to fit."""
    pack = read_translated_pack(path)
    inputs = pack.provenance.get("inputs", {})
    if inputs.get("source_model", {}).get("sha256") != source.sha256:
        raise UserError(f"was made with another source model than {source.path}", path=path)
    made_from = inputs.get("target_data", {})
    if len(pack.probs) != len(tr_set) or made_from.get("sha256_paths") != tr_set.fingerprint():
        raise UserError(f"translates other TR images than {tr_set.source} ({len(pack.probs)} images from "
                        f"{made_from.get('path')}; given {len(tr_set)}), or in another order", path=path)
    if pack.probs.shape[1] != len(source.classes):
        raise UserError(f"holds {pack.probs.shape[1]}-class probabilities; the source model has "
                        f"{len(source.classes)} classes", path=path)
    return torch.from_numpy(pack.probs)
