"""SHOT (Liang et al., ICML 2020): clustering pseudo-labels plus information maximisation.

L = 0.3 * CE(p_t, y_hat) + 1.0 * (mean H(p_t) - H(mean p_t)), y_hat refreshed each epoch by the
two-round cosine clustering (docs/methods.md, "Baselines").
"""

from __future__ import annotations

from dataclasses import dataclass

from xmt.losses import information_maximization, pseudo_label_cross_entropy
from xmt.methods.adapt import METHODS, Batch, Objective


@METHODS.register("shot")
@dataclass
class ShotObjective(Objective):
    name = "shot"
    pseudo_labels = "shot"
    beta_pl: float = 0.3
    beta_im: float = 1.0

    def loss(self, model, batch: Batch):
        logits, _ = model(batch.x)
        logits = logits.float()
        pl = pseudo_label_cross_entropy(logits, batch.pseudo.labels)
        im = information_maximization(logits)
        return self.beta_pl * pl + self.beta_im * im, {"pl": pl.detach(), "im": im.detach()}
