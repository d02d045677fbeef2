"""TGKT-NT: TGKT whose L_KL distils only the non-target classes, as C2KD (Huo et al., CVPR 2024) does for
cross-modal distillation: what the teacher says about the class it ranks first is left out, and only how it
spreads the other classes is distilled. C2KD's target class is the labelled one; no TR label is read here,
so the teacher's argmax c* stands in for it:

    L_KL-NT = KL(q_t || q_s),  q_t = p_t restricted to every class but c* = argmax p_t and renormalised,
                               q_s = the student's softmax over the same classes

with TGKT's temperature (both at T, times T^2) and confidence weighting. Every other term, option and
default is TGKT's (`--method tgkt-nt` takes TGKT's options); a teacher with no mass outside c* contributes 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from xmt.losses import kl_distillation
from xmt.methods.objective import METHODS
from xmt.methods.tgkt import TgktObjective


def non_target_kl(teacher_probs: Tensor, student_logits: Tensor, temperature: float = 1.0,
                  weights: Tensor | None = None) -> Tensor:
    """``T^2 * mean_j KL(q_t,j || q_s,j)`` over the classes other than each row's teacher argmax (module
    docstring); rows whose teacher puts all its mass on its argmax have no non-target distribution and add 0."""
    target = torch.nn.functional.one_hot(teacher_probs.argmax(-1), teacher_probs.shape[-1]).bool()
    rest = teacher_probs.masked_fill(target, 0.0)
    informative = rest.sum(-1) > 0
    rest = torch.where(informative[:, None], rest, (~target).to(rest.dtype))  # any distribution; weighted 0 below
    weight = informative.to(student_logits.dtype) * (1.0 if weights is None else weights)
    # the teacher's argmax gets probability 0 on both sides: kl_distillation renormalises over the others
    return kl_distillation(rest, student_logits.masked_fill(target, float("-inf")), temperature, weight)


@METHODS.register("tgkt-nt")
@dataclass
class TgktNonTargetObjective(TgktObjective):
    name = "tgkt-nt"
    summary = "TGKT distilling only the teacher's non-target classes, as C2KD"

    def distillation(self, teacher, logits, weights):
        return non_target_kl(teacher, logits, self.temperature, weights)
