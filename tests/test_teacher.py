"""TGKT's teacher: the agreement guard on L_KL's weight and cluster-level votes (xmt/methods/teacher.py)."""

import numpy as np
import pytest
import torch

from xmt.errors import UserError
from xmt.methods.teacher import (accuracies_given_teacher, agreeing_beyond_the_estimate, cluster_votes, guard_weight,
                                 holdout_teacher_accuracy)
from xmt.methods.tgkt import TgktObjective
from xmt.pseudo_labels import PseudoLabels


def _predictors(accuracies, k=10, n=20000, seed=0):
    """Independent predictors: right with probability a, else a uniformly drawn wrong class."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    return [np.where(rng.random(n) < a, truth, (truth + rng.integers(1, k, n)) % k) for a in accuracies]


def test_a_teacher_well_above_the_others_is_trusted_fully():
    teacher, *others = _predictors((0.8, 0.5, 0.4))
    decision = guard_weight(teacher, others, 10, margin=0.1)
    assert decision.weight == 1.0
    assert decision.teacher_accuracy == pytest.approx(0.8, abs=0.03)
    assert decision.other_accuracies == pytest.approx([0.5, 0.4], abs=0.03)


def test_a_teacher_no_better_than_another_predictor_is_switched_off():
    teacher, *others = _predictors((0.3, 0.5, 0.4), seed=1)
    assert guard_weight(teacher, others, 10, margin=0.1).weight == 0.0


def test_between_the_two_the_weight_is_the_estimated_lead_over_the_margin():
    teacher, *others = _predictors((0.55, 0.5, 0.3), seed=2)
    decision = guard_weight(teacher, others, 10, margin=0.2)
    lead = decision.teacher_accuracy - max(decision.other_accuracies)
    assert decision.weight == pytest.approx(lead / 0.2)
    assert 0.0 < decision.weight < 1.0
    assert decision.record()["guard_weight"] == decision.weight


def test_the_held_out_estimate_runs_from_chance_at_kappa_zero_to_the_source_accuracy_at_one():
    assert holdout_teacher_accuracy(0.0, 0.9, 10) == pytest.approx(0.1)
    assert holdout_teacher_accuracy(-0.3, 0.9, 10) == pytest.approx(0.1)  # worse than chance reads as chance
    assert holdout_teacher_accuracy(1.0, 0.9, 10) == pytest.approx(0.9)
    assert holdout_teacher_accuracy(0.5, 0.9, 10) == pytest.approx(0.1 + 0.5 * 0.8)
    assert holdout_teacher_accuracy(0.5, 0.9, 4) == pytest.approx(0.25 + 0.5 * 0.65)


def test_given_the_teachers_accuracy_the_others_follow_from_their_agreement_with_it_alone():
    teacher, *others = _predictors((0.8, 0.5, 0.4), seed=3)
    assert accuracies_given_teacher(teacher, others, 0.8, 10) == pytest.approx([0.5, 0.4], abs=0.02)
    # a teacher at chance says nothing of the others: they are put at 1 and it is never trusted
    assert accuracies_given_teacher(teacher, others, 0.1, 10) == [1.0, 1.0]


def test_others_agreeing_with_the_teacher_more_than_its_estimate_allows_are_named():
    teacher, *others = _predictors((0.8, 0.5, 0.4), seed=3)
    assert agreeing_beyond_the_estimate(teacher, others, 0.8, 10) == []  # consistent: nothing clipped
    # read low (30%): an independent model could agree with such a teacher beyond chance on at most
    # (3 - 1) / 9 = 22% of the images, these do on about 0.78 x 0.44 = 34% and 0.78 x 0.33 = 26%
    assert agreeing_beyond_the_estimate(teacher, others, 0.3, 10) == [0, 1]
    assert agreeing_beyond_the_estimate(teacher, others, 0.37, 10) == [0]  # 30% allowed: the 26% one fits
    decision = guard_weight(teacher, others, 10, margin=0.1, holdout_estimate=0.37)
    assert decision.agreeing_beyond_estimate == [0] and decision.other_accuracies[0] == 1.0
    assert decision.other_accuracies[1] < 1.0 and decision.record()["guard_agreeing_beyond_estimate"] == [0]
    assert guard_weight(teacher, others, 10, margin=0.1).agreeing_beyond_estimate == []  # no held-out estimate


def _sharing_mistakes(k=10, n=20000, seed=4):
    """A teacher right on 80%, independent of two others right on 60% that share most of their mistakes."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    wrong = (truth + rng.integers(1, k, n)) % k
    teacher = np.where(rng.random(n) < 0.8, truth, (truth + rng.integers(1, k, n)) % k)
    first_right = rng.random(n) < 0.6
    second_right = np.where(rng.random(n) < 0.9, first_right, rng.random(n) < 0.6)
    return teacher, [np.where(first_right, truth, wrong), np.where(second_right, truth, wrong)]


def test_with_a_held_out_estimate_others_sharing_mistakes_no_longer_look_better_than_the_teacher():
    teacher, others = _sharing_mistakes()
    joint = guard_weight(teacher, others, 10, margin=0.1)
    assert max(joint.other_accuracies) > 0.8  # shared mistakes read as accuracy: the teacher switched off
    assert joint.weight == 0.0
    held_out = guard_weight(teacher, others, 10, margin=0.1, holdout_estimate=0.8)
    assert held_out.teacher_accuracy == 0.8 and held_out.other_accuracies == pytest.approx([0.6, 0.6], abs=0.02)
    assert held_out.weight == 1.0
    assert held_out.teacher_accuracy_agreement == joint.teacher_accuracy
    assert held_out.record()["guard_teacher_accuracy_holdout"] == 0.8
    # and a teacher the held-out pairs put at chance is switched off whatever the agreements say
    assert guard_weight(teacher, others, 10, margin=0.1, holdout_estimate=0.1).weight == 0.0


def test_the_guard_needs_two_other_predictors_and_a_positive_margin():
    teacher, other = _predictors((0.8, 0.5))
    with pytest.raises(ValueError, match="three predictors"):
        guard_weight(teacher, [other], 10, margin=0.1)
    with pytest.raises(ValueError, match="margin"):
        guard_weight(teacher, [other, other], 10, margin=0.0)


def test_cluster_votes_are_the_mean_teacher_distribution_of_each_cluster():
    teacher = torch.tensor([[0.9, 0.1, 0.0], [0.5, 0.5, 0.0], [0.0, 0.2, 0.8], [0.2, 0.2, 0.6]])
    clusters = torch.tensor([0, 0, 2, 0])
    votes = cluster_votes(teacher, clusters, 3)
    cluster0 = teacher[[0, 1, 3]].mean(0)
    assert torch.allclose(votes[[0, 1, 3]], cluster0.expand(3, 3))
    assert torch.allclose(votes[2], teacher[2])
    assert torch.allclose(votes.sum(1), torch.ones(4))


def test_a_guard_weight_of_zero_is_tgkt_without_l_kl_and_one_is_unchanged():
    plain = TgktObjective(beta_kl=2.0)
    assert plain.guarded(0.0) == TgktObjective(beta_kl=0.0)
    assert not plain.guarded(0.0).uses_translations
    assert plain.guarded(1.0) == plain and plain.guarded(0.25).beta_kl == 0.5


def test_cluster_votes_replace_each_teacher_row_by_its_cluster_mean_and_need_clusters():
    teacher = torch.softmax(torch.randn(6, 3, generator=torch.Generator().manual_seed(0)), 1)
    pseudo = PseudoLabels(torch.tensor([0, 0, 1, 2, 2, 2]), torch.ones(6))
    cluster = TgktObjective(kl_target="cluster", beta_self=0.0)
    assert cluster.pseudo_labels == "shot"  # the clusters are computed although L_self is off
    torch.testing.assert_close(cluster.epoch_teacher(teacher, pseudo), cluster_votes(teacher, pseudo.labels, 3))
    assert TgktObjective().epoch_teacher(teacher, pseudo) is teacher
    assert TgktObjective(beta_self=0.0).pseudo_labels is None
    assert TgktObjective(clustering="socket").pseudo_labels == "socket"
    with pytest.raises(UserError, match="--kl-target"):
        TgktObjective(kl_target="image")
    with pytest.raises(UserError, match="--guard-margin"):
        TgktObjective(guard_margin=0.0)


def test_tgkt_with_l_kl_switched_off_and_socket_clustering_is_socket():
    """What the guard falls back to when it trusts no teacher: SOCKET's loss, term for term."""
    from xmt.methods.adapt import Batch
    from xmt.methods.socket import SocketObjective
    from xmt.models.classifier import Classifier

    torch.manual_seed(0)
    model = Classifier("smallcnn", 5, backbone_args={"width": 4}).train()
    source = Classifier("smallcnn", 5, backbone_args={"width": 4}).eval()
    batch = Batch(x=torch.randn(8, 3, 16, 16), index=torch.arange(8),
                  pseudo=PseudoLabels(torch.randint(0, 5, (8,)), torch.rand(8)),
                  ti_x=torch.randn(6, 3, 16, 16), ti_source_features=torch.randn(6, model.bottleneck_dim))
    fallback, socket = TgktObjective(beta_kl=0.0, clustering="socket"), SocketObjective()
    assert fallback.pseudo_labels == socket.pseudo_labels and fallback.uses_ti and not fallback.uses_translations
    for objective in (fallback, socket):
        objective.setup(source, torch.device("cpu"))
    torch.testing.assert_close(fallback.loss(model, batch)[0], socket.loss(model, batch)[0])
