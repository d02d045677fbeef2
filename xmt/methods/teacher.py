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

  and the guard takes the lower of the two estimates. It assumes the TR images translate as well as the
  held-out TI pairs do (other classes, the same cameras).
- Cluster votes: each TR image's KL target is the mean teacher distribution over its pseudo-label cluster
  instead of its own, so one bad translation is outvoted by its cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from xmt.agreement import estimate_accuracies


@dataclass
class GuardDecision:
    weight: float  # the factor on beta_kl, in [0, 1]
    teacher_accuracy: float  # estimated, on the TR images: the lower of the two estimates below
    other_accuracies: list[float]  # estimated, in the order the other predictors were given
    teacher_accuracy_agreement: float  # from the agreement model
    teacher_accuracy_holdout: float | None = None  # from the held-out TI pairs, where the bridge kept any

    def record(self) -> dict:
        return {"guard_weight": self.weight, "guard_teacher_accuracy": self.teacher_accuracy,
                "guard_other_accuracies": self.other_accuracies,
                "guard_teacher_accuracy_agreement": self.teacher_accuracy_agreement,
                "guard_teacher_accuracy_holdout": self.teacher_accuracy_holdout}


def holdout_teacher_accuracy(kappa: float, source_accuracy: float, num_classes: int) -> float:
    """The teacher's accuracy from the share of the source model's reading its translations keep on held-out TI
    pairs (Cohen's kappa): chance at kappa <= 0, the source model's own accuracy at kappa 1."""
    chance = 1.0 / num_classes
    return chance + max(0.0, min(1.0, kappa)) * (source_accuracy - chance)


def guard_weight(teacher: np.ndarray, others: list[np.ndarray], num_classes: int, margin: float,
                 holdout_estimate: float | None = None) -> GuardDecision:
    """The factor on L_KL from the estimated accuracies of the teacher's labels and at least two others'; with
    `holdout_estimate` (holdout_teacher_accuracy), the teacher's is the lower of it and the agreement's."""
    if margin <= 0:
        raise ValueError(f"margin must be > 0, got {margin}")
    estimate = estimate_accuracies([teacher, *others], num_classes)
    by_agreement, rest = estimate.accuracies[0], estimate.accuracies[1:]
    mine = by_agreement if holdout_estimate is None else min(by_agreement, holdout_estimate)
    weight = float(np.clip((mine - max(rest)) / margin, 0.0, 1.0))
    return GuardDecision(weight, mine, rest, by_agreement, holdout_estimate)


def cluster_votes(teacher: torch.Tensor, clusters: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(N, K) teacher probabilities replaced by the mean over each row's cluster (clusters: (N,) in 0..K-1)."""
    sums = torch.zeros(num_classes, teacher.shape[1], dtype=teacher.dtype, device=teacher.device)
    sums.index_add_(0, clusters, teacher)
    counts = torch.bincount(clusters, minlength=num_classes).clamp_min(1).to(teacher.dtype)
    return (sums / counts[:, None])[clusters]
