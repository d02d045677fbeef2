"""How much TGKT trusts its teacher (the source model on bridge's translations), and what the teacher says.

- The guard (issue 11): the teacher's accuracy on the TR images is estimated without labels from its
  agreement with other predictors (`xmt/agreement.py`): target models trained without the teacher, or a
  second bridge's translations. L_KL's weight is then scaled by

      w = clip((a_teacher - max_i a_i) / margin, 0, 1)

  so a teacher no better than the best other predictor is switched off (TGKT falls back to its label-free
  terms, SOCKET's behaviour) and one `margin` better is trusted fully.
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
    teacher_accuracy: float  # estimated, on the TR images
    other_accuracies: list[float]  # estimated, in the order the other predictors were given

    def record(self) -> dict:
        return {"guard_weight": self.weight, "guard_teacher_accuracy": self.teacher_accuracy,
                "guard_other_accuracies": self.other_accuracies}


def guard_weight(teacher: np.ndarray, others: list[np.ndarray], num_classes: int, margin: float) -> GuardDecision:
    """The factor on L_KL from the estimated accuracies of the teacher's labels and at least two others'."""
    if margin <= 0:
        raise ValueError(f"margin must be > 0, got {margin}")
    estimate = estimate_accuracies([teacher, *others], num_classes)
    mine, rest = estimate.accuracies[0], estimate.accuracies[1:]
    weight = float(np.clip((mine - max(rest)) / margin, 0.0, 1.0))
    return GuardDecision(weight, mine, rest)


def cluster_votes(teacher: torch.Tensor, clusters: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(N, K) teacher probabilities replaced by the mean over each row's cluster (clusters: (N,) in 0..K-1)."""
    sums = torch.zeros(num_classes, teacher.shape[1], dtype=teacher.dtype, device=teacher.device)
    sums.index_add_(0, clusters, teacher)
    counts = torch.bincount(clusters, minlength=num_classes).clamp_min(1).to(teacher.dtype)
    return (sums / counts[:, None])[clusters]
