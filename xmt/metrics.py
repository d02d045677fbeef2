"""Classification metrics: top-1 accuracy, mean per-class accuracy, per-class accuracy, confusion matrix."""

from __future__ import annotations

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Rows: true class; columns: predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return matrix


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]) -> dict:
    """Accuracy over samples, and the mean over classes present in `y_true` of per-class recall.

    A class with no samples has per-class accuracy None and is left out of the mean.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.size == 0:
        raise ValueError("no labelled samples to score")
    matrix = confusion_matrix(y_true, y_pred, len(class_names))
    support = matrix.sum(axis=1)
    per_class = {
        name: (float(matrix[k, k] / support[k]) if support[k] else None) for k, name in enumerate(class_names)
    }
    present = [v for v in per_class.values() if v is not None]
    return {
        "count": int(y_true.size),
        "accuracy": float((y_true == y_pred).mean()),
        "mean_class_accuracy": float(np.mean(present)),
        "per_class_accuracy": per_class,
        "support": {name: int(n) for name, n in zip(class_names, support)},
        "confusion_matrix": matrix.tolist(),
        "classes": list(class_names),
    }
