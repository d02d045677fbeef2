"""SHOT / SOCKET clustering pseudo-labels: hand-worked examples and a plain-loop reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from xmt.pseudo_labels import (
    PseudoLabels,
    class_histogram,
    label_change_fraction,
    shot_pseudo_labels,
    socket_pseudo_labels,
)

DTYPES = [torch.float32, torch.float64]


def tensor(rows: list[list[float]], dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.tensor(rows, dtype=dtype)


# --- hand-worked examples -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
@pytest.mark.parametrize("rounds", [1, 2])
def test_two_clusters_correct_wrong_predictions(dtype: torch.dtype, distance: str, rounds: int) -> None:
    # Cluster A: three points at F = (3, 0); cluster B: three at F = (0, 3). The network is wrong on
    # the third point of each cluster (argmax = [0, 0, 1, 1, 1, 0]).
    features = tensor([[3, 0]] * 3 + [[0, 3]] * 3, dtype)
    probs = tensor([[0.9, 0.1], [0.9, 0.1], [0.2, 0.8], [0.1, 0.9], [0.1, 0.9], [0.7, 0.3]], dtype)
    # By hand: with z_A, z_B the normalised [F, 1], each soft centroid is a convex combination
    # c_k = a_k z_A + (1 - a_k) z_B with a_0 = (0.9 + 0.9 + 0.2) / (2.0 + 0.1 + 0.1 + 0.7) = 2.0 / 2.9 = 0.69
    # and a_1 = (0.1 + 0.1 + 0.8) / (1.0 + 0.9 + 0.9 + 0.3) = 1.0 / 3.1 = 0.32. Moving along the arc from
    # z_B to z_A brings c_k closer to z_A in angle and in distance, so every A point picks class 0 and
    # every B point class 1. The hard round then has centroids z_A and z_B exactly and keeps them.
    result = shot_pseudo_labels(features, probs, rounds=rounds, distance=distance)
    assert result.labels.tolist() == [0, 0, 0, 1, 1, 1]
    # Confidence is the network's probability for the pseudo-label: low where it was wrong.
    torch.testing.assert_close(result.confidence, torch.tensor([0.9, 0.9, 0.2, 0.9, 0.9, 0.3], dtype=dtype))


def test_cosine_and_euclidean_disagree_on_a_short_centroid() -> None:
    # Class 1 has two members at F = (3, 0) and (-3, 0): z = (+-3, 0, 1) / sqrt(10). Class 0 has one
    # member at F = (0, 0.5): z = (0, 0.4472, 0.8944). The query q at F = (0, 0) has z = (0, 0, 1)
    # and probabilities [0.5, 0.5]. Soft centroids:
    #   c0 = (1 * z_a + 0.5 * q) / 1.5          = (0, 0.2981, 0.9296), |c0| = 0.9763
    #   c1 = (z_p + z_m + 0.5 * q) / 2.5        = (0, 0, 0.4530)       (short: its members cancel)
    # cosine:    d(q, c1) = 1 - 1 = 0 < d(q, c0) = 1 - 0.9296 / 0.9763 = 0.048  -> q gets 1
    # euclidean: d(q, c1) = 1 - 0.4530 = 0.547 > d(q, c0) = sqrt(0.2981^2 + 0.0704^2) = 0.306 -> q gets 0
    # The members keep their classes under both (e.g. z_p: cos 0.316 to c1 vs 0.301 to c0).
    features = tensor([[3, 0], [-3, 0], [0, 0.5], [0, 0]])
    probs = tensor([[0, 1], [0, 1], [1, 0], [0.5, 0.5]])
    assert shot_pseudo_labels(features, probs, rounds=1, distance="cosine").labels.tolist() == [1, 1, 0, 1]
    assert shot_pseudo_labels(features, probs, rounds=1, distance="euclidean").labels.tolist() == [1, 1, 0, 0]


# Three points at A = (3, 0) with p = [1, 0, 0], three at B = (0, 3) with p = [0, 1, 0], and X at (0, -3)
# with p = [0.5, 0.1, 0.4]: class 2 is nobody's argmax, but X alone gives it mass, so c2 = z_X.
NEVER_ARGMAX_FEATURES = [[3, 0]] * 3 + [[0, 3]] * 3 + [[0, -3]]
NEVER_ARGMAX_PROBS = [[1, 0, 0]] * 3 + [[0, 1, 0]] * 3 + [[0.5, 0.1, 0.4]]


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
@pytest.mark.parametrize("rounds", [1, 2])
def test_class_without_members_cannot_attract_points(distance: str, rounds: int) -> None:
    features, probs = tensor(NEVER_ARGMAX_FEATURES), tensor(NEVER_ARGMAX_PROBS)
    # threshold=0: class 2 has no argmax member, so X (distance 0 to c2) must go elsewhere; c0 holds
    # X with weight 0.5 / 3.5, c1 with 0.1 / 3.1, and z_X is nearer z_A (z_X . z_A = 0.1) than z_B (-0.8).
    filtered = shot_pseudo_labels(features, probs, rounds=rounds, distance=distance, threshold=0)
    assert filtered.labels.tolist() == [0, 0, 0, 1, 1, 1, 0]
    # threshold=None (SOCKET): every class may attract, and X sits exactly on c2.
    unfiltered = shot_pseudo_labels(features, probs, rounds=rounds, distance=distance, threshold=None)
    assert unfiltered.labels.tolist() == [0, 0, 0, 1, 1, 1, 2]


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
def test_threshold_is_applied_again_in_the_hard_round(distance: str) -> None:
    # A = (4, 0) x3 with p = [1, 0, 0]; B = (0, 4) x3 with p = [0, 1, 0]; Y1 at C = (4, -4) with
    # p = [0, 0, 1]; Y2 at B with p = [0, 0.4, 0.6]. Argmax counts are [3, 3, 2], so with threshold=1
    # every class is a candidate in the soft round. There c0 = z_A, c1 = z_B and
    # c2 = (z_C + 0.6 z_B) / 1.6: Y2 sits on c1 and goes to 1, Y1 goes to 2 (cos 0.80 to c2 vs 0.72 to
    # z_A). Class 2 is left with one member, not more than threshold=1, so in the hard round it may
    # not attract and Y1 moves to its nearest remaining centroid, z_A.
    features = tensor([[4, 0]] * 3 + [[0, 4]] * 3 + [[4, -4], [0, 4]])
    probs = tensor([[1, 0, 0]] * 3 + [[0, 1, 0]] * 3 + [[0, 0, 1], [0, 0.4, 0.6]])
    soft_only = shot_pseudo_labels(features, probs, rounds=1, distance=distance, threshold=1)
    assert soft_only.labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 1]
    two_rounds = shot_pseudo_labels(features, probs, rounds=2, distance=distance, threshold=1)
    assert two_rounds.labels.tolist() == [0, 0, 0, 1, 1, 1, 0, 1]
    # With threshold=0 a single member is enough: Y1 keeps class 2 (its hard centroid is z_C itself).
    lenient = shot_pseudo_labels(features, probs, rounds=2, distance=distance, threshold=0)
    assert lenient.labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 1]


def test_socket_pseudo_labels_are_one_unfiltered_euclidean_soft_round() -> None:
    features, probs = tensor(NEVER_ARGMAX_FEATURES), tensor(NEVER_ARGMAX_PROBS)
    assert socket_pseudo_labels(features, probs).labels.tolist() == [0, 0, 0, 1, 1, 1, 2]
    features, probs = randn_features_and_probs(torch.float64, seed=3)
    expected = shot_pseudo_labels(features, probs, rounds=1, distance="euclidean", threshold=None)
    assert torch.equal(socket_pseudo_labels(features, probs).labels, expected.labels)


# --- against a plain-loop reference ------------------------------------------------------------------


def reference_pseudo_labels(
    features: np.ndarray, probs: np.ndarray, rounds: int, distance: str, threshold: int | None
) -> list[int]:
    """SHOT's clustering written out with loops, in float64."""
    n, k = probs.shape
    z = []
    for row in features:
        augmented = [*row, 1.0]
        norm = math.sqrt(sum(v * v for v in augmented))
        z.append([v / norm for v in augmented])
    weights = [list(map(float, row)) for row in probs]
    labels = [max(range(k), key=lambda c: (row[c], -c)) for row in weights]  # first argmax
    for _ in range(rounds):
        centroids = []
        for c in range(k):
            total = sum(weights[j][c] for j in range(n))
            centroid = [sum(weights[j][c] * z[j][d] for j in range(n)) / (total + 1e-8) for d in range(len(z[0]))]
            centroids.append(centroid)
        counts = [labels.count(c) for c in range(k)]
        candidates = [c for c in range(k) if threshold is None or counts[c] > threshold]

        def dist(point: list[float], centroid: list[float]) -> float:
            if distance == "euclidean":
                return math.sqrt(sum((a - b) ** 2 for a, b in zip(point, centroid)))
            norm = math.sqrt(sum(b * b for b in centroid))
            if norm == 0.0:  # an empty class's hard centroid (threshold=None): xmt's convention
                return 1.0
            return 1.0 - sum(a * b for a, b in zip(point, centroid)) / norm

        labels = [min(candidates, key=lambda c: (dist(point, centroids[c]), c)) for point in z]
        weights = [[1.0 if c == label else 0.0 for c in range(k)] for label in labels]
    return labels


def randn_features_and_probs(
    dtype: torch.dtype, seed: int, n: int = 40, k: int = 5, d: int = 6
) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    centers = torch.randn(k, d, generator=generator, dtype=torch.float64) * 2
    truth = torch.randint(0, k, (n,), generator=generator)
    features = centers[truth] + torch.randn(n, d, generator=generator, dtype=torch.float64)
    # A noisy network: the right class boosted, sometimes not enough to win.
    logits = torch.randn(n, k, generator=generator, dtype=torch.float64) * 1.5
    logits[torch.arange(n), truth] += 1.0
    return features.to(dtype), logits.softmax(dim=1).to(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
@pytest.mark.parametrize("rounds,threshold", [(1, 0), (2, 0), (3, 0), (2, 2), (1, None), (2, None)])
def test_matches_plain_loop_reference(dtype: torch.dtype, distance: str, rounds: int, threshold: int | None) -> None:
    for seed in range(3):
        features, probs = randn_features_and_probs(dtype, seed)
        expected = reference_pseudo_labels(
            features.double().numpy(), probs.double().numpy(), rounds, distance, threshold
        )
        assert shot_pseudo_labels(features, probs, rounds, distance, threshold).labels.tolist() == expected


@pytest.mark.parametrize("dtype", DTYPES)
def test_result_types_and_confidence(dtype: torch.dtype) -> None:
    features, probs = randn_features_and_probs(dtype, seed=4)
    result = shot_pseudo_labels(features, probs)
    assert isinstance(result, PseudoLabels)
    assert result.labels.dtype == torch.int64 and result.labels.shape == (40,)
    assert result.confidence.dtype == dtype and result.confidence.shape == (40,)
    assert ((result.confidence >= 0) & (result.confidence <= 1)).all()
    torch.testing.assert_close(result.confidence, probs[torch.arange(40), result.labels])


def test_permuting_samples_permutes_labels() -> None:
    features, probs = randn_features_and_probs(torch.float64, seed=5)
    permutation = torch.randperm(40, generator=torch.Generator().manual_seed(0))
    labels = shot_pseudo_labels(features, probs).labels
    assert torch.equal(shot_pseudo_labels(features[permutation], probs[permutation]).labels, labels[permutation])


def test_does_not_track_gradients() -> None:
    features, probs = randn_features_and_probs(torch.float32, seed=6)
    result = shot_pseudo_labels(features.requires_grad_(), probs.requires_grad_())
    assert not result.confidence.requires_grad


def test_rejects_bad_arguments() -> None:
    features, probs = randn_features_and_probs(torch.float64, seed=7)
    with pytest.raises(ValueError, match="rounds"):
        shot_pseudo_labels(features, probs, rounds=0)
    with pytest.raises(ValueError, match="distance"):
        shot_pseudo_labels(features, probs, distance="manhattan")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="share N"):
        shot_pseudo_labels(features[:-1], probs)
    with pytest.raises(ValueError, match="threshold"):
        shot_pseudo_labels(features, probs, threshold=40)


# --- logging helpers -------------------------------------------------------------------------------


def test_label_change_fraction() -> None:
    assert label_change_fraction(torch.tensor([0, 1, 2, 3]), torch.tensor([0, 1, 3, 3])) == 0.25
    assert label_change_fraction(torch.tensor([2, 2]), torch.tensor([2, 2])) == 0.0
    assert label_change_fraction(torch.tensor([], dtype=torch.long), torch.tensor([], dtype=torch.long)) == 0.0
    with pytest.raises(ValueError, match="shape"):
        label_change_fraction(torch.tensor([0, 1]), torch.tensor([0, 1, 2]))


def test_class_histogram() -> None:
    assert class_histogram(torch.tensor([0, 2, 2, 4]), num_classes=5).tolist() == [1, 0, 2, 0, 1]
    assert class_histogram(torch.tensor([], dtype=torch.long), num_classes=3).tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="lie in"):
        class_histogram(torch.tensor([0, 5]), num_classes=5)
    with pytest.raises(ValueError, match="lie in"):
        class_histogram(torch.tensor([-1, 0]), num_classes=5)
