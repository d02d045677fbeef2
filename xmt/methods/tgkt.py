"""TGKT, task-irrelevant data-guided knowledge transfer (method.md, "Stage TGKT").

    L = beta_kl   * KL(p_s(T(x)) || p_t(x))    the source model's predictions on bridge's translations,
                                               distilled into the target model on the raw images
      + beta_f    * L_f                        TI-guided feature alignment: F_t(x_t^TI) vs F_s(x_s^TI)
      + beta_self * L_self                     self-training on SHOT clustering pseudo-labels (refreshed
                                               each epoch; those below `confidence` are dropped)
      + beta_im * L_IM + beta_bn * L_BN        [design] SHOT's IM and SOCKET's BN-statistics term

Every weight at 0 switches its term off (and what only it needs: translations, TI data, clustering).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field

import torch

from xmt.losses import (batchnorm_statistics_loss, feature_alignment, information_maximization, kl_distillation,
                        pseudo_label_cross_entropy, socket_bn_layer_weights, teacher_confidence)
from xmt.bounds import NON_NEGATIVE, POSITIVE, UNIT_INTERVAL
from xmt.errors import UserError
from xmt.methods.adapt import METHODS, Batch, Objective, source_statistics_reference
from xmt.models.bn_stats import record_batchnorm_inputs

IGNORE = -1
KL_WEIGHTINGS = ("none", "confidence")


@METHODS.register("tgkt")
@dataclass
class TgktObjective(Objective):
    name = "tgkt"
    beta_kl: float = 1.0
    temperature: float = 1.0
    kl_weighting: str = "none"  # "confidence": each term scaled by 1 - H(teacher)/log K ([design], label-free)
    beta_f: float = 0.5
    feature_reduction: str = "frobenius"
    beta_self: float = 0.3
    confidence: float = 0.0
    beta_im: float = 1.0
    beta_bn: float = 0.5  # SOCKET's weight: with a weak teacher (poor translations) it carries TGKT (docs/methods.md)
    reference: tuple = field(default=(), repr=False)

    def __post_init__(self) -> None:
        weights = {"beta-kl": self.beta_kl, "beta-f": self.beta_f, "beta-self": self.beta_self,
                   "beta-im": self.beta_im, "beta-bn": self.beta_bn}
        negative = [name for name, value in weights.items() if NON_NEGATIVE.problem(value)]
        if negative:
            raise UserError(f"loss weights must be finite and >= 0: {', '.join(negative)}")
        if not any(weights.values()):
            raise UserError("every TGKT loss weight is 0: nothing to train")
        if POSITIVE.problem(self.temperature):
            raise UserError(f"--temperature {self.temperature}: must be finite and > 0")
        UNIT_INTERVAL.check("--confidence", self.confidence)
        if self.kl_weighting not in KL_WEIGHTINGS:
            raise UserError(f"--kl-weighting {self.kl_weighting}: expected one of {', '.join(KL_WEIGHTINGS)}")
        if self.feature_reduction not in ("frobenius", "mean"):
            raise UserError(f"--feature-reduction {self.feature_reduction}: expected frobenius or mean")

    @property
    def pseudo_labels(self) -> str | None:
        return "shot" if self.beta_self > 0 else None

    @property
    def uses_ti(self) -> bool:
        return self.beta_f > 0

    @property
    def uses_translations(self) -> bool:
        return self.beta_kl > 0

    def settings(self) -> dict:
        return {k: getattr(self, k) for k in ("beta_kl", "temperature", "kl_weighting", "beta_f", "feature_reduction",
                                              "beta_self", "confidence", "beta_im", "beta_bn")}

    def setup(self, source, device):
        if self.beta_bn > 0:
            self.reference = source_statistics_reference(source, device)

    def loss(self, model, batch: Batch):
        recorder = record_batchnorm_inputs(model.backbone) if self.beta_bn > 0 else nullcontext()
        with recorder as bn:
            logits, _ = model(batch.x)
        logits = logits.float()
        terms: dict[str, torch.Tensor] = {}
        loss = logits.new_zeros(())
        if self.beta_kl > 0:
            weights = teacher_confidence(batch.teacher) if self.kl_weighting == "confidence" else None
            terms["kl"] = kl_distillation(batch.teacher, logits, self.temperature, weights)
            loss = loss + self.beta_kl * terms["kl"]
        if self.beta_self > 0:
            keep = batch.pseudo.confidence >= self.confidence
            labels = torch.where(keep, batch.pseudo.labels, torch.full_like(batch.pseudo.labels, IGNORE))
            terms["self"] = pseudo_label_cross_entropy(logits, labels, ignore_index=IGNORE)
            loss = loss + self.beta_self * terms["self"]
        if self.beta_im > 0:
            terms["im"] = information_maximization(logits)
            loss = loss + self.beta_im * terms["im"]
        if self.beta_bn > 0:
            terms["bn"] = batchnorm_statistics_loss(bn.means, bn.vars, *self.reference,
                                                    socket_bn_layer_weights(len(bn.means)))
            loss = loss + self.beta_bn * terms["bn"]
        if self.beta_f > 0:
            _, ti_features = model(batch.ti_x)
            terms["f"] = feature_alignment(ti_features.float(), batch.ti_source_features,
                                           reduction=self.feature_reduction)
            loss = loss + self.beta_f * terms["f"]
        return loss, {k: v.detach() for k, v in terms.items()}
