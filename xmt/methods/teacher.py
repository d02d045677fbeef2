"""How much TGKT trusts its teacher (the source model on bridge's translations), and what the teacher says.

- The guard (issue 11): the teacher's accuracy on the TR images is estimated without labels from its
  agreement with other predictors (`xmt/agreement.py`): target models trained without the teacher, or a
  second bridge's translations. L_KL's weight is then scaled by

      w = clip((a_teacher - max_i a_i) / margin, 0, 1)

  so a teacher no better than the best other predictor is switched off (TGKT falls back to its label-free
  terms, SOCKET's behaviour) and one `margin` better is trusted fully.
- The agreement model assumes independent mistakes, which predictors sharing one source model do not make
  (it put chance-level teachers at 30-43%, results.md). Where the bridge held TI pairs out, a second estimate
  needs no such assumption: on them the source model's reading of the real RGB is known, so Cohen's kappa
  between it and the reading of the translations says how much of that reading survives translation,

      a_teacher ~ 1/K + max(kappa, 0) * (a_source - 1/K)      (a_source: the source model's RGB accuracy)

  It assumes the TR images translate as well as the held-out TI pairs do (other classes, the same cameras);
  where they come from other classes it errs low. With the teacher's accuracy so known, each other predictor's
  follows from its agreement with the teacher alone, u_i = c_{teacher,i} / u_teacher: that assumes only that
  the other's mistakes are independent of the teacher's, not of each other's (SOCKET's and SHOT's models share
  theirs, which inflated the joint estimates). The joint estimate of the teacher is still recorded beside it.
- Cluster votes: each TR image's KL target is the mean teacher distribution over its pseudo-label cluster
  instead of its own, so one bad translation is outvoted by its cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from xmt.agreement import estimate_accuracies


@dataclass
class GuardDecision:
    weight: float  # the factor on beta_kl, in [0, 1]
    teacher_accuracy: float  # estimated, on the TR images: from the held-out TI pairs where there are any
    other_accuracies: list[float]  # estimated, in the order the other predictors were given
    teacher_accuracy_agreement: float  # from the joint agreement model
    teacher_accuracy_holdout: float | None = None  # from the held-out TI pairs, where the bridge kept any
    # with the held-out estimate: the others that agree with the teacher more than that estimate allows
    # (agreeing_beyond_the_estimate), whose estimates are therefore clipped to 1
    agreeing_beyond_estimate: list[int] = field(default_factory=list)

    def record(self) -> dict:
        return {"guard_weight": self.weight, "guard_teacher_accuracy": self.teacher_accuracy,
                "guard_other_accuracies": self.other_accuracies,
                "guard_teacher_accuracy_agreement": self.teacher_accuracy_agreement,
                "guard_teacher_accuracy_holdout": self.teacher_accuracy_holdout,
                "guard_agreeing_beyond_estimate": self.agreeing_beyond_estimate}


def holdout_teacher_accuracy(kappa: float, source_accuracy: float, num_classes: int) -> float:
    """The teacher's accuracy from the share of the source model's reading its translations keep on held-out TI
    pairs (Cohen's kappa): chance at kappa <= 0, the source model's own accuracy at kappa 1."""
    chance = 1.0 / num_classes
    return chance + max(0.0, min(1.0, kappa)) * (source_accuracy - chance)


def _beyond_chance(accuracy: float, num_classes: int) -> float:
    """An accuracy (or agreement) rescaled so that chance, 1/K, is 0 and 1 stays 1."""
    return (num_classes * accuracy - 1) / (num_classes - 1)


def _agreements_beyond_chance(teacher: np.ndarray, others: list[np.ndarray], num_classes: int) -> list[float]:
    return [_beyond_chance(float(np.mean(np.asarray(other) == np.asarray(teacher))), num_classes) for other in others]


def accuracies_given_teacher(teacher: np.ndarray, others: list[np.ndarray], teacher_accuracy: float,
                             num_classes: int) -> list[float]:
    """Each other predictor's accuracy from its agreement with a teacher whose accuracy is known: u_i = c_i / u_t
    (the agreement model of xmt/agreement.py for each pair alone), clipped to [0, 1]. A teacher at chance tells
    nothing of the others: they are then put at 1, so that it is never trusted."""
    k = num_classes
    u_teacher = _beyond_chance(teacher_accuracy, k)
    accuracies = []
    for chance_corrected in _agreements_beyond_chance(teacher, others, k):
        u = np.clip(chance_corrected / u_teacher, 0.0, 1.0) if u_teacher > 1e-6 else 1.0
        accuracies.append(float(((k - 1) * u + 1) / k))
    return accuracies


def agreeing_beyond_the_estimate(teacher: np.ndarray, others: list[np.ndarray], teacher_accuracy: float,
                                 num_classes: int) -> list[int]:
    """The others that agree with the teacher beyond chance more often (c_i > u_t) than a teacher of that accuracy
    could agree with anyone whose mistakes are independent of its own: their estimate is clipped to 1. Either the
    teacher is better than its estimate, or it shares mistakes with them; the agreements cannot tell which."""
    u_teacher = _beyond_chance(teacher_accuracy, num_classes)
    return [i for i, c in enumerate(_agreements_beyond_chance(teacher, others, num_classes)) if c > u_teacher]


def guard_weight(teacher: np.ndarray, others: list[np.ndarray], num_classes: int, margin: float,
                 holdout_estimate: float | None = None) -> GuardDecision:
    """The factor on L_KL from the estimated accuracies of the teacher's labels and at least two others'. With
    `holdout_estimate` (holdout_teacher_accuracy) the teacher's accuracy is that, and the others' follow from their
    agreement with the teacher (accuracies_given_teacher); without it all come from the joint agreement model."""
    if margin <= 0:
        raise ValueError(f"margin must be > 0, got {margin}")
    estimate = estimate_accuracies([teacher, *others], num_classes)
    by_agreement, rest = estimate.accuracies[0], estimate.accuracies[1:]
    mine, beyond = by_agreement, []
    if holdout_estimate is not None:
        mine, rest = holdout_estimate, accuracies_given_teacher(teacher, others, holdout_estimate, num_classes)
        beyond = agreeing_beyond_the_estimate(teacher, others, holdout_estimate, num_classes)
    weight = float(np.clip((mine - max(rest)) / margin, 0.0, 1.0))
    return GuardDecision(weight, mine, rest, by_agreement, holdout_estimate, beyond)


def cluster_votes(teacher: torch.Tensor, clusters: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(N, K) teacher probabilities replaced by the mean over each row's cluster (clusters: (N,) in 0..K-1)."""
    sums = torch.zeros(num_classes, teacher.shape[1], dtype=teacher.dtype, device=teacher.device)
    sums.index_add_(0, clusters, teacher)
    counts = torch.bincount(clusters, minlength=num_classes).clamp_min(1).to(teacher.dtype)
    return (sums / counts[:, None])[clusters]
