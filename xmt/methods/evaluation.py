"""Scoring models on labelled data, and predicting labels for new images."""

from __future__ import annotations

import numpy as np
import torch

from xmt.data.batches import load_native
from xmt.data.sets.image_set import ImageSet
from xmt.engine.console import warn
from xmt.methods.inference import predict
from xmt.metrics import classification_metrics
from xmt.artifacts import LoadedModel


def evaluate_model(loaded: LoadedModel, image_set: ImageSet, device: torch.device,
                   batch_size: int = 256, workers: int = 0) -> dict:
    """Metrics of a model on labelled images of its modality (class names must be the model's)."""
    labels = image_set.labels_for(loaded.classes)
    absent = [name for name in loaded.classes if name not in (image_set.classes or [])]
    if absent:
        warn(f"{image_set.source}: no images of {len(absent)} model classes ({', '.join(absent[:5])}); "
             "they are left out of the mean per-class accuracy")
    native = load_native(image_set, loaded.recipe, workers)
    probs, _ = predict(loaded.model.to(device), loaded.recipe, native, device, batch_size)
    metrics = classification_metrics(labels, probs.argmax(1).numpy(), loaded.classes)
    return {"model": str(loaded.path), "data": str(image_set.source), "modality": loaded.modality,
            "kind": loaded.meta.get("kind"), "method": loaded.meta.get("method"),
            "oracle": bool(loaded.meta.get("oracle", False)), **metrics}


def predict_labels(loaded: LoadedModel, image_set: ImageSet, device: torch.device,
                   batch_size: int = 256, workers: int = 0) -> list[dict]:
    """One row per image: path, predicted class name and its probability."""
    native = load_native(image_set, loaded.recipe, workers)
    probs, _ = predict(loaded.model.to(device), loaded.recipe, native, device, batch_size)
    confidence, index = probs.max(1)
    names = np.array(loaded.classes)[index.numpy()]
    return [{"path": p, "label": str(n), "confidence": float(c)}
            for p, n, c in zip(image_set.paths, names, confidence.tolist())]
