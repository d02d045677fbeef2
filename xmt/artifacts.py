"""Saving and loading classifiers with everything needed to use them: classes, recipe, provenance.

A model artifact joins a network (models/) with the recipe that encodes its inputs (data/), so it lives above
both, beside methods/: models/ and data/ stay siblings that never import each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from xmt.data.encoding import EncodingRecipe
from xmt.engine.checkpoint import load_state_checked, read_checkpoint, save_checkpoint
from xmt.engine.hashing import sha256_file
from xmt.errors import UserError
from xmt.models.classifier import Classifier
from xmt.models.translators import Translator, build_translator

MODEL_KINDS = ("source-model", "target-model")


@dataclass
class LoadedModel:
    model: Classifier
    recipe: EncodingRecipe
    classes: list[str]
    meta: dict
    path: Path
    sha256: str

    @property
    def modality(self) -> str:
        return self.recipe.modality


def save_model(
    path: str | Path,
    model: Classifier,
    *,
    kind: str,
    classes: list[str],
    recipe: EncodingRecipe,
    config: dict,
    provenance: dict,
    extra: dict | None = None,
) -> Path:
    meta = {
        "kind": kind,
        "arch": model.arch(),
        "classes": list(classes),
        "modality": recipe.modality,
        "input_size": recipe.size,
        "recipe": recipe.to_dict(),
        "config": config,
        "provenance": provenance,
        **(extra or {}),
    }
    return save_checkpoint(path, model.state_dict(), meta)


def load_model(path: str | Path, kinds: tuple[str, ...] = MODEL_KINDS) -> LoadedModel:
    """Rebuild a classifier from its checkpoint, checking kind, schema, architecture and shapes."""
    tensors, meta = read_checkpoint(path, kinds)
    try:
        model = Classifier.from_arch(meta["arch"])
        recipe = EncodingRecipe.from_dict(meta["recipe"])
        classes = list(meta["classes"])
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"incomplete model metadata ({exc})", path=path)
    if len(classes) != model.num_classes:
        raise UserError(f"lists {len(classes)} classes but its head has {model.num_classes}", path=path)
    load_state_checked(model, tensors, path)
    model.eval()
    return LoadedModel(model, recipe, classes, meta, Path(path), sha256_file(path))


@dataclass
class LoadedTranslator:
    translator: Translator
    target_recipe: EncodingRecipe  # how the translator reads target images
    source_recipe: EncodingRecipe  # the source model's recipe, which normalises its RGB output
    meta: dict
    path: Path
    sha256: str


def save_translator(
    path: str | Path,
    translator: Translator,
    *,
    target_recipe: EncodingRecipe,
    source_recipe: EncodingRecipe,
    config: dict,
    provenance: dict,
) -> Path:
    meta = {
        "kind": "translator",
        "arch": {"name": translator.name, "config": translator.config()},
        "modality": target_recipe.modality,
        "input_size": target_recipe.size,
        "recipe": target_recipe.to_dict(),
        "output_recipe": source_recipe.to_dict(),
        "config": config,
        "provenance": provenance,
    }
    return save_checkpoint(path, translator.state_dict(), meta)


def load_translator(path: str | Path) -> LoadedTranslator:
    tensors, meta = read_checkpoint(path, ("translator",))
    try:
        translator = build_translator(meta["arch"]["name"], **meta["arch"]["config"])
        target_recipe = EncodingRecipe.from_dict(meta["recipe"])
        source_recipe = EncodingRecipe.from_dict(meta["output_recipe"])
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"incomplete translator metadata ({exc})", path=path)
    load_state_checked(translator, tensors, path)
    translator.eval()
    return LoadedTranslator(translator, target_recipe, source_recipe, meta, Path(path), sha256_file(path))
