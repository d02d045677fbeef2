"""`xmt translate` from files to files: any target images through a trained translator, as a translated pack
(bridge writes its TR translations with the same function)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from xmt.data.batches import NativeImages, load_native
from xmt.data.encoding import EncodingRecipe
from xmt.data.packs.translated import write_translated_pack
from xmt.data.sets.image_set import ImageSet
from xmt.engine.output_kinds import pack_of
from xmt.engine.outputs import Output, claim_outputs
from xmt.errors import UserError
from xmt.methods.inference import translate_all
from xmt.artifacts import LoadedModel, load_model, load_translator
from xmt.stages.inputs import open_target_images, scoring_labels

if TYPE_CHECKING:
    from xmt.models.translators import Translator


# the translator's held-out TI figures (methods/tgmb.py, holdout_check), carried from its checkpoint's config into
# the provenance of every pack it translates, where the teacher guard reads them
HOLDOUT_CHECK = "holdout_check"


def write_translations(out: Path, translator: Translator, target_recipe: EncodingRecipe, made_by: dict,
                       source: LoadedModel, images: ImageSet, native: NativeImages, device: torch.device) -> Path:
    """Translate every image and write the translated pack (shared by bridge and translate); `made_by` names the
    translator's file ({"path", "sha256"})."""
    rgb, probs, features = translate_all(translator, source.model, target_recipe, source.recipe, native, device)
    provenance = {"inputs": {
        "source_model": {"path": str(source.path), "sha256": source.sha256},
        "translator": made_by,
        "target_data": images.provenance(),
    }}
    return write_translated_pack(out, rgb, probs, features, scoring_labels(images, source.classes),
                                 list(images.paths), source.classes, provenance)


def run_translate(*, translator_path: Path, source_model: Path, data: Path, out: Path, device: torch.device,
                  depth_scale_mm: float | None = None, workers: int = 0, force: bool = False,
                  root: Path | None = None) -> Path:
    with claim_outputs([Output(out, pack_of("translated"))], inputs=[translator_path, source_model, data],
                       force=force) as claim:
        _translate(translator_path, source_model, data, claim.temporary(out), device, depth_scale_mm, workers, root)
    return out


def _translate(translator_path: Path, source_model: Path, data: Path, tmp: Path, device: torch.device,
               depth_scale_mm: float | None, workers: int, root: Path | None = None) -> None:
    translator = load_translator(translator_path)
    source = load_model(source_model, kinds=("source-model",))
    trained_with = translator.meta.get("provenance", {}).get("inputs", {}).get("source_model", {}).get("sha256")
    if trained_with != source.sha256:
        raise UserError(f"translator {translator_path} was trained with another source model "
                        f"(sha256 {str(trained_with)[:12]}...)", path=source_model)
    recipe = translator.target_recipe
    images = open_target_images(data, recipe.modality, recipe.size, depth_scale_mm, root)
    native = load_native(images, recipe, workers)
    made_by = {"path": str(translator.path), "sha256": translator.sha256,
               HOLDOUT_CHECK: translator.meta.get("config", {}).get(HOLDOUT_CHECK, {})}
    write_translations(tmp, translator.translator, recipe, made_by, source, images, native, device)
