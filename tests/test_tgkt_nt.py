"""--method tgkt-nt (xmt/methods/tgkt_nt.py): TGKT whose L_KL distils only the teacher's non-target classes."""

import math

import pytest
import torch

from xmt.methods.adapt import METHODS, Batch
from xmt.methods.objective import create_objective
from xmt.methods.tgkt import TgktObjective
from xmt.methods.tgkt_nt import TgktNonTargetObjective, non_target_kl
from xmt.models.classifier import Classifier


def by_hand(teacher: torch.Tensor, logits: torch.Tensor, temperature: float, weights=None) -> float:
    """The formula, one row and one class at a time in float64."""
    total = 0.0
    for j, (p, z) in enumerate(zip(teacher.double().tolist(), logits.double().tolist())):
        target = max(range(len(p)), key=p.__getitem__)
        others = [k for k in range(len(p)) if k != target]
        tempered = {k: p[k] ** (1 / temperature) for k in others}
        q_t = {k: v / sum(tempered.values()) for k, v in tempered.items()}
        norm = sum(math.exp(z[k] / temperature) for k in others)
        q_s = {k: math.exp(z[k] / temperature) / norm for k in others}
        kl = sum(q_t[k] * math.log(q_t[k] / q_s[k]) for k in others if q_t[k] > 0)
        total += (1.0 if weights is None else float(weights[j])) * kl
    return total / len(teacher) * temperature ** 2


@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_non_target_kl_is_the_kl_of_both_distributions_renormalised_without_the_teachers_argmax(temperature):
    torch.manual_seed(0)
    teacher = torch.softmax(torch.randn(6, 5) * 2, 1)
    logits = torch.randn(6, 5)
    weights = torch.rand(6)
    assert non_target_kl(teacher, logits, temperature).item() == pytest.approx(by_hand(teacher, logits, temperature),
                                                                               rel=1e-5)
    assert non_target_kl(teacher, logits, temperature, weights).item() == pytest.approx(
        by_hand(teacher, logits, temperature, weights), rel=1e-5)


def test_the_target_class_is_not_distilled():
    torch.manual_seed(1)
    teacher = torch.softmax(torch.randn(4, 5), 1)
    logits = torch.randn(4, 5, requires_grad=True)
    non_target_kl(teacher, logits).backward()
    target = teacher.argmax(1)
    assert torch.all(logits.grad[torch.arange(4), target] == 0)  # the student's target logit is left alone
    assert logits.grad.abs().sum() > 0
    # moving the teacher's mass between its argmax and the rest, in proportion, changes nothing
    sharper = teacher.clone()
    sharper[torch.arange(4), target] += 1.0
    sharper = sharper / sharper.sum(1, keepdim=True)
    torch.testing.assert_close(non_target_kl(sharper, logits), non_target_kl(teacher, logits))


def test_a_one_hot_teacher_adds_nothing_and_no_nan():
    logits = torch.randn(3, 4, requires_grad=True)
    teacher = torch.eye(4)[:3]
    loss = non_target_kl(teacher, logits)
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(logits.grad).all()


def test_tgkt_nt_is_tgkt_with_the_non_target_l_kl():
    torch.manual_seed(0)
    model = Classifier("smallcnn", 5, backbone_args={"width": 4}).eval()
    x = torch.randn(4, 3, 16, 16)
    teacher = torch.softmax(torch.randn(4, 5) * 3, 1)
    batch = Batch(x=x, index=torch.arange(4), teacher=teacher)
    only = {"beta_kl": 2.0, "beta_f": 0.0, "beta_self": 0.0, "beta_bn": 0.0}
    loss, terms = TgktNonTargetObjective(**only).loss(model, batch)
    logits, _ = model(x)
    assert terms["kl"].item() == pytest.approx(by_hand(teacher, logits.detach(), 1.0), rel=1e-5)
    tgkt_loss, tgkt_terms = TgktObjective(**only).loss(model, batch)
    assert terms["im"] == tgkt_terms["im"] and terms["kl"] != tgkt_terms["kl"]
    assert loss.item() == pytest.approx(2.0 * terms["kl"].item() + terms["im"].item(), rel=1e-6)


def test_tgkt_nt_is_a_method_with_tgkts_options_and_guard():
    objective = create_objective("tgkt-nt", {"beta_kl": 2.0, "kl_target": "cluster"})
    assert isinstance(objective, TgktNonTargetObjective) and objective.name == "tgkt-nt"
    assert METHODS.get("tgkt-nt") is TgktNonTargetObjective
    assert objective.settings()["beta_kl"] == 2.0 and objective.guardable
    guarded = objective.guarded(0.5)
    assert isinstance(guarded, TgktNonTargetObjective) and guarded.beta_kl == 1.0
