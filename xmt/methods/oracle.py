"""The oracle: supervised training on TARGET labels. An upper bound for calibration, never a method.

Same recipe as every method (frozen head, SHOT's optimiser), with label-smoothed cross-entropy.
Its checkpoint and every table mark it as trained on target labels.
"""

from __future__ import annotations

from dataclasses import dataclass

from xmt.losses import label_smoothed_cross_entropy
from xmt.methods.adapt import METHODS, Batch, Objective


@METHODS.register("oracle")
@dataclass
class OracleObjective(Objective):
    name = "oracle"
    summary = "trains on TARGET labels: an upper bound, not a method"
    uses_labels = True
    label_smoothing: float = 0.1

    def loss(self, model, batch: Batch):
        logits, _ = model(batch.x)
        ce = label_smoothed_cross_entropy(logits.float(), batch.labels, self.label_smoothing)
        return ce, {"ce": ce.detach()}
