"""SOCKET (Ahmed et al., ECCV 2022), as its public code behaves (docs/methods.md, "Baselines").

L = 0.3 * L_PL + 1.0 * L_IM + 0.5 * L_BN + 0.5 * L_TI: pseudo-labels from one soft Euclidean round;
SHOT's IM; the BatchNorm inputs of the target backbone on TR batches against the frozen source
model's running statistics (first layer weighted 10); and the Frobenius distance between the target
model's bottleneck features of TI target images and the source model's of their RGB partners.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xmt.losses import (batchnorm_statistics_loss, feature_alignment, information_maximization,
                        pseudo_label_cross_entropy, socket_bn_layer_weights)
from xmt.methods.adapt import METHODS, Batch, Objective, source_statistics_reference
from xmt.models.bn_stats import record_batchnorm_inputs


@METHODS.register("socket")
@dataclass
class SocketObjective(Objective):
    name = "socket"
    pseudo_labels = "socket"
    uses_ti = True
    beta_pl: float = 0.3
    beta_im: float = 1.0
    beta_bn: float = 0.5
    beta_ti: float = 0.5
    reference: tuple = field(default=(), repr=False)

    def setup(self, source, device):
        self.reference = source_statistics_reference(source, device, "SOCKET")

    def settings(self) -> dict:
        return {"beta_pl": self.beta_pl, "beta_im": self.beta_im, "beta_bn": self.beta_bn, "beta_ti": self.beta_ti}

    def loss(self, model, batch: Batch):
        with record_batchnorm_inputs(model.backbone) as bn:
            logits, _ = model(batch.x)
        logits = logits.float()
        terms = {"pl": pseudo_label_cross_entropy(logits, batch.pseudo.labels),
                 "im": information_maximization(logits),
                 "bn": batchnorm_statistics_loss(bn.means, bn.vars, *self.reference,
                                                 socket_bn_layer_weights(len(bn.means)))
                 if bn.means else logits.new_zeros(())}
        _, ti_features = model(batch.ti_x)
        terms["ti"] = feature_alignment(ti_features.float(), batch.ti_source_features, reduction="frobenius")
        loss = (self.beta_pl * terms["pl"] + self.beta_im * terms["im"] + self.beta_bn * terms["bn"]
                + self.beta_ti * terms["ti"])
        return loss, {k: v.detach() for k, v in terms.items()}
