"""Running a classifier over images: probabilities, features, predictions, scores."""

from __future__ import annotations

import numpy as np
import torch

from xmt.data.batches import NativeImages, index_batches
from xmt.data.encoding import EncodingRecipe
from xmt.metrics import classification_metrics
from xmt.models.classifier import Classifier


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
