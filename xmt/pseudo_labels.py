"""SHOT / SOCKET clustering pseudo-labels for unlabelled target data (docs/methods.md, "Clustering pseudo-labels").

Given the features F(x) and the softmax predictions p of a whole unlabelled target set (eval mode):

1. z_j = [F(x_j), 1] / ||[F(x_j), 1]|| (append a ones column, then L2-normalise each row);
2. soft round: centroids c_k = sum_j p_jk z_j / (sum_j p_jk + 1e-8), label = nearest centroid;
3. each further round: hard centroids c_k = mean of the z_j currently labelled k, label = nearest.

SHOT: two rounds (soft + hard), cosine distance, ``threshold=0``. SOCKET: the soft round only,
Euclidean distance, every class a candidate (``threshold=None``).

Candidate classes: with an integer ``threshold``, a round lets only classes with more than
``threshold`` members in the labelling it starts from (the network's argmax before the soft round,
the previous round's labels afterwards) attract points, as SHOT's public code does; so with the default
0 a class left empty cannot attract points through a zero centroid. SOCKET's code filters no class.

Two differences from the public code: SHOT's code appends the ones column and normalises only for the
cosine distance, so its Euclidean option clusters raw features; xmt does both for either distance, as
SOCKET's code does. And the clustering runs in float64 on the CPU (SHOT's features are
float32): for a data set's features it is cheap, it keeps float32 rounding from deciding near ties,
and the labels do not depend on the device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from xmt.registry import Registry

Distance = Literal["cosine", "euclidean"]

# SHOT's guard against dividing by an empty class's total probability.
CENTROID_EPS = 1e-8


@dataclass(frozen=True)
class PseudoLabels:
    """Clustering pseudo-labels of N samples.

    labels: (N,) int64, each in [0, K).
    confidence: (N,) in [0, 1], the network's own probability p_j[labels_j] for its pseudo-label. It
        is high only where the clustering and the network agree confidently, so a caller can keep
        ``confidence >= tau`` and set the rest to ``ignore_index`` for
        :func:`xmt.losses.pseudo_label_cross_entropy`.
    """

    labels: Tensor
    confidence: Tensor


def _augment_and_normalise(features: Tensor) -> Tensor:
    ones = torch.ones(features.shape[0], 1, dtype=features.dtype, device=features.device)
    return F.normalize(torch.cat([features, ones], dim=1), dim=1)


def _distances(z: Tensor, centroids: Tensor, distance: Distance) -> Tensor:
    if distance == "cosine":
        # F.normalize maps a zero centroid (an empty class's hard centroid, reachable only with
        # threshold=None) to zero, i.e. cosine distance 1, where SHOT's cdist would give NaN.
        return 1.0 - z @ F.normalize(centroids, dim=1).T
    return torch.cdist(z, centroids, compute_mode="donot_use_mm_for_euclid_dist")


def _assign(
    z: Tensor, centroids: Tensor, current_labels: Tensor, distance: Distance, threshold: int | None
) -> Tensor:
    distances = _distances(z, centroids, distance)
    if threshold is not None:
        counts = torch.bincount(current_labels, minlength=centroids.shape[0])
        candidates = counts > threshold
        if not candidates.any():
            raise ValueError(f"no class has more than threshold={threshold} members; lower the threshold")
        distances = distances.masked_fill(~candidates, float("inf"))
    # argmin returns the first minimum, so exact ties go to the lower class index (as numpy in SHOT).
    return distances.argmin(dim=1)


# The kinds of pseudo-labels a transfer method may name (`Objective.pseudo_labels`), each a function of the
# features (N, D) and probabilities (N, K) of every TR image: a new kind is a function registered here.
PSEUDO_LABELS: Registry[Callable[[Tensor, Tensor], "PseudoLabels"]] = Registry("pseudo-label kind")


@PSEUDO_LABELS.register("shot")
def shot_pseudo_labels(
    features: Tensor,
    probs: Tensor,
    rounds: int = 2,
    distance: Distance = "cosine",
    threshold: int | None = 0,
) -> PseudoLabels:
    """SHOT's clustering pseudo-labels (see the module docstring for the algorithm).

    features: (N, D) features F(x) of the whole target set; probs: (N, K) softmax predictions.
    rounds: 1 = the soft round only; each further round adds one hard round (SHOT: 2).
    distance: "cosine" (SHOT: 1 - cos) or "euclidean" (SOCKET).
    threshold: a class may attract points only if it has more than ``threshold`` members in the
        labelling the round starts from (SHOT: 0, so a class with no member is never chosen);
        None lets every class attract points (SOCKET).
    Returns labels (on the device of ``features``) and confidence (dtype and device of ``probs``).
    """
    if features.dim() != 2 or probs.dim() != 2 or features.shape[0] != probs.shape[0]:
        raise ValueError(
            f"features (N, D) and probs (N, K) must share N; got {tuple(features.shape)} and {tuple(probs.shape)}"
        )
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    if distance not in ("cosine", "euclidean"):
        raise ValueError(f"distance must be 'cosine' or 'euclidean', got {distance!r}")

    z = _augment_and_normalise(features.detach().to("cpu", torch.float64))
    weights = probs.detach().to("cpu", torch.float64)
    num_classes = weights.shape[1]
    labels = weights.argmax(dim=1)
    for _ in range(rounds):
        centroids = weights.T @ z / (weights.sum(dim=0)[:, None] + CENTROID_EPS)
        labels = _assign(z, centroids, labels, distance, threshold)
        weights = F.one_hot(labels, num_classes).to(torch.float64)

    confidence = probs.detach().gather(1, labels.to(probs.device)[:, None]).squeeze(1)
    return PseudoLabels(labels=labels.to(features.device), confidence=confidence)


@PSEUDO_LABELS.register("socket")
def socket_pseudo_labels(features: Tensor, probs: Tensor, threshold: int | None = None) -> PseudoLabels:
    """SOCKET's pseudo-labels: the soft round only, Euclidean distance, no class filtered by default."""
    return shot_pseudo_labels(features, probs, rounds=1, distance="euclidean", threshold=threshold)


def label_change_fraction(old: Tensor, new: Tensor) -> float:
    """Fraction of samples whose pseudo-label changed between two refreshes (0.0 for no samples)."""
    if old.shape != new.shape:
        raise ValueError(f"label tensors differ in shape: {tuple(old.shape)} vs {tuple(new.shape)}")
    if old.numel() == 0:
        return 0.0
    return (old != new).double().mean().item()


def class_histogram(labels: Tensor, num_classes: int) -> Tensor:
    """Number of samples per class, (num_classes,) int64; labels must lie in [0, num_classes)."""
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got [{labels.min()}, {labels.max()}]")
    return torch.bincount(labels.flatten(), minlength=num_classes)
