"""How accurate is each of several classifiers on unlabelled images? An estimate from how often they agree.

The model (an agreement-rate model in the family of Dawid and Skene's): each predictor i is right with
probability a_i, independently of the others given the true class, and when wrong picks one of the other
K - 1 classes uniformly. Then two predictors agree with probability

    r_ij = a_i a_j + (1 - a_i)(1 - a_j) / (K - 1)  =  1/K + (K-1)/K * u_i u_j,   u_i = (K a_i - 1) / (K - 1),

so the chance-corrected agreements c_ij = (K r_ij - 1) / (K - 1) form the rank-one matrix u u^T off its
diagonal. With three predictors u_1 = sqrt(c_12 c_13 / c_23); with more, u is the least-squares rank-one fit
of the off-diagonal c. No label is read.

Where two predictors share their mistakes (the same hard images), they agree more than the model says and
both are over-estimated; predictors that read the data differently (a translation against the raw image)
make the estimate sounder. A predictor at chance level has u = 0 and tells nothing about the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_ITERATIONS = 200


@dataclass
class AgreementEstimate:
    accuracies: list[float]  # estimated a_i, in the order the predictors were given
    agreement: np.ndarray  # observed r_ij (1 on the diagonal)


def agreement_rates(predictions: list[np.ndarray]) -> np.ndarray:
    """r_ij: the share of images on which predictors i and j give the same class."""
    stacked = np.stack([np.asarray(p) for p in predictions])
    return (stacked[:, None, :] == stacked[None, :, :]).mean(axis=2)


def rank_one_fit(c: np.ndarray) -> np.ndarray:
    """u >= 0 minimising sum over i != j of (c_ij - u_i u_j)^2, by alternating least squares."""
    m = len(c)
    off = ~np.eye(m, dtype=bool)
    u = np.full(m, np.sqrt(max(float(c[off].mean()), 1e-6)))
    for _ in range(_ITERATIONS):
        for i in range(m):
            others = off[i]
            denominator = float(np.sum(u[others] ** 2))
            u[i] = max(0.0, float(np.sum(c[i, others] * u[others])) / denominator) if denominator > 0 else 0.0
    return u


def estimate_accuracies(predictions: list[np.ndarray], num_classes: int) -> AgreementEstimate:
    """Each predictor's accuracy from the agreement of at least three predictors' class labels (N,) each."""
    if len(predictions) < 3:
        raise ValueError(f"need at least three predictors to separate their accuracies, got {len(predictions)}")
    if num_classes < 2:
        raise ValueError(f"need at least two classes, got {num_classes}")
    lengths = {len(p) for p in predictions}
    if len(lengths) != 1 or not lengths.pop():
        raise ValueError("every predictor must label the same, non-empty set of images")
    k = num_classes
    r = agreement_rates(predictions)
    u = np.clip(rank_one_fit((k * r - 1) / (k - 1)), 0.0, 1.0)
    return AgreementEstimate([float(((k - 1) * ui + 1) / k) for ui in u], r)


def cohen_kappa(a: np.ndarray, b: np.ndarray, num_classes: int) -> float:
    """Cohen's chance-corrected agreement of two labellings (N,) of the same images: (p_o - p_e) / (1 - p_e),
    p_e the agreement expected from the two label histograms alone; 0 when p_e is 1 (both all one class)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim != 1 or not len(a):
        raise ValueError("need two labellings of the same, non-empty set of images")
    observed = float(np.mean(a == b))
    expected = float(np.dot(np.bincount(a, minlength=num_classes), np.bincount(b, minlength=num_classes))) / len(a) ** 2
    return 0.0 if expected >= 1.0 else (observed - expected) / (1.0 - expected)
