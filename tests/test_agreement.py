"""The agreement-rate estimate of classifiers' accuracies without labels (xmt/agreement.py)."""

import numpy as np
import pytest

from xmt.agreement import agreement_rates, cohen_kappa, estimate_accuracies, rank_one_fit


def _predictors(accuracies, k, n, seed=0):
    """Independent predictors: right with probability a, else a uniformly drawn wrong class."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    out = []
    for a in accuracies:
        wrong = (truth + rng.integers(1, k, n)) % k
        out.append(np.where(rng.random(n) < a, truth, wrong))
    return truth, out


def test_agreement_rates_count_equal_labels():
    r = agreement_rates([np.array([0, 1, 2, 3]), np.array([0, 1, 0, 0]), np.array([1, 1, 2, 3])])
    assert r.tolist() == [[1.0, 0.5, 0.75], [0.5, 1.0, 0.25], [0.75, 0.25, 1.0]]


def test_three_predictors_recover_the_accuracies_of_the_model_exactly():
    k, a = 10, np.array([0.8, 0.5, 0.3])
    r = np.outer(a, a) + np.outer(1 - a, 1 - a) / (k - 1)  # the model's agreement, off the diagonal
    u = rank_one_fit((k * r - 1) / (k - 1))
    assert ((k - 1) * u + 1) / k == pytest.approx(a, abs=1e-6)


@pytest.mark.parametrize("accuracies", [(0.9, 0.6, 0.4), (0.3, 0.7, 0.5, 0.45), (0.25, 0.25, 0.8)])
def test_simulated_independent_predictors_are_estimated_within_a_few_points(accuracies):
    truth, predictions = _predictors(accuracies, k=10, n=20000)
    estimate = estimate_accuracies(predictions, 10)
    assert estimate.accuracies == pytest.approx(list(accuracies), abs=0.03)
    assert estimate.agreement.shape == (len(accuracies),) * 2


def test_a_predictor_at_chance_gets_chance_accuracy_and_leaves_the_others_estimated():
    truth, predictions = _predictors((0.8, 0.6, 0.1, 0.7), k=10, n=20000, seed=1)
    estimate = estimate_accuracies(predictions, 10)
    assert estimate.accuracies[2] == pytest.approx(0.1, abs=0.03)
    assert [estimate.accuracies[i] for i in (0, 1, 3)] == pytest.approx([0.8, 0.6, 0.7], abs=0.03)


def test_shared_mistakes_inflate_the_estimates():
    # two predictors that copy each other's errors look better than they are: the model's stated limit
    truth, (a, b, c) = _predictors((0.5, 0.5, 0.7), k=10, n=20000, seed=2)
    b = a.copy()
    estimate = estimate_accuracies([a, b, c], 10)
    assert estimate.accuracies[0] > 0.6


def test_refuses_fewer_than_three_predictors_or_unequal_lengths():
    with pytest.raises(ValueError, match="three"):
        estimate_accuracies([np.zeros(3), np.zeros(3)], 10)
    with pytest.raises(ValueError, match="same"):
        estimate_accuracies([np.zeros(3), np.zeros(3), np.zeros(2)], 10)


def test_cohen_kappa_corrects_the_agreement_for_what_the_label_histograms_give_by_chance():
    a = np.array([0, 0, 0, 1, 1, 2])
    b = np.array([0, 0, 1, 1, 2, 2])
    # p_o = 4/6; p_e = (3*2 + 2*2 + 1*2) / 36 = 12/36
    assert cohen_kappa(a, b, 3) == pytest.approx((4 / 6 - 1 / 3) / (1 - 1 / 3))
    assert cohen_kappa(a, a, 3) == pytest.approx(1.0)
    # p_o = 3/4; p_e = 3/4 * 1/2 + 1/4 * 1/2 = 1/2
    assert cohen_kappa(np.array([0, 0, 0, 1]), np.array([0, 0, 1, 1]), 2) == pytest.approx(0.5)
    assert cohen_kappa(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]), 2) == pytest.approx(0.0)
    # both readings all one class agree everywhere, by chance alone
    assert cohen_kappa(np.zeros(5, int), np.zeros(5, int), 3) == 0.0
    # a reading piled on one class that agrees 80% of the time is worth nothing
    assert cohen_kappa(np.zeros(10, int), np.array([0] * 8 + [1, 2]), 3) == pytest.approx(0.0)
    with pytest.raises(ValueError):
        cohen_kappa(np.zeros(3, int), np.zeros(4, int), 3)
