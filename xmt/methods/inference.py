"""Running trained networks over images: a classifier's probabilities, features, predictions and scores; a
translator's translations, as the source model reads them."""

from __future__ import annotations

import numpy as np
import torch

from xmt.data.batches import NativeImages, index_batches
from xmt.data.encoding import EncodingRecipe
from xmt.metrics import classification_metrics
from xmt.models.classifier import Classifier
from xmt.models.translators import Translator


@torch.no_grad()
def predict(
    model: Classifier, recipe: EncodingRecipe, images: NativeImages, device: torch.device, batch_size: int = 256
) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax probabilities (N, K) and bottleneck features (N, D) on the CPU, model in eval mode."""
    was_training = model.training
    model.eval()
    probs, feats = [], []
    for indices in index_batches(len(images), batch_size, shuffle=False):
        logits, features = model(images.batch(indices, recipe, device))
        probs.append(torch.softmax(logits.float(), dim=1).cpu())
        feats.append(features.float().cpu())
    model.train(was_training)
    return torch.cat(probs), torch.cat(feats)


def score(
    model: Classifier, recipe: EncodingRecipe, images: NativeImages, labels: np.ndarray,
    classes: list[str], device: torch.device, batch_size: int = 256,
) -> dict:
    """Metrics of the model's predictions against `labels` (indices into `classes`)."""
    probs, _ = predict(model, recipe, images, device, batch_size)
    return classification_metrics(labels, probs.argmax(1).numpy(), classes)


@torch.no_grad()
def translate_all(
    translator: Translator, source: Classifier, target_recipe: EncodingRecipe, source_recipe: EncodingRecipe,
    images: NativeImages, device: torch.device, batch_size: int = 256,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Translate every image: (uint8 RGB (N, 3, S, S), source probs (N, K), source features (N, D)).

    The source model reads the uint8-quantised translation, exactly what the translated pack stores,
    so that scoring the pack's images later reproduces the stored probabilities.
    """
    translator.to(device).eval()
    source.to(device).eval()
    rgb, probs, feats = [], [], []
    for indices in index_batches(len(images), batch_size, shuffle=False):
        unit = translator(target_recipe.to_unit(images.rows(indices).to(device))).float()
        quantised = (unit.clamp(0, 1) * 255).round()
        logits, features = source(source_recipe.normalise(quantised / 255.0))
        rgb.append(quantised.byte().cpu())
        probs.append(torch.softmax(logits.float(), 1).cpu())
        feats.append(features.float().cpu())
    return torch.cat(rgb).numpy(), torch.cat(probs).numpy(), torch.cat(feats).numpy()
