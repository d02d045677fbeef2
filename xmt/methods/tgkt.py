"""TGKT, task-irrelevant data-guided knowledge transfer (docs/methods.md, "TGKT").

    L = beta_kl   * KL(p_s(T(x)) || p_t(x))    the source model's predictions on bridge's translations,
                                               distilled into the target model on the raw images
      + beta_f    * L_f                        TI-guided feature alignment: F_t(x_t^TI) vs F_s(x_s^TI)
      + beta_self * L_self                     self-training on SHOT clustering pseudo-labels (refreshed
                                               each epoch; those below `confidence` are dropped)
      + beta_im * L_IM + beta_bn * L_BN        [design] SHOT's IM and SOCKET's BN-statistics term

Every weight at 0 switches its term off (and what only it needs: translations, TI data, clustering).

Two label-free ways to trust a weak teacher less (issue 11; xmt/methods/teacher.py): `--kl-target cluster`
distils each pseudo-label cluster's mean teacher prediction instead of each image's own, and the stage's
`--guard-with` scales beta_kl by the teacher's estimated lead over other predictors (`guarded`).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field, replace

import torch

from xmt.losses import (batchnorm_statistics_loss, feature_alignment, information_maximization, kl_distillation,
                        pseudo_label_cross_entropy, socket_bn_layer_weights, teacher_confidence)
from xmt.bounds import NON_NEGATIVE, POSITIVE, UNIT_INTERVAL, Bounds
from xmt.errors import UserError
from xmt.methods.adapt import METHODS, Batch, Objective, source_statistics_reference
from xmt.methods.teacher import cluster_votes
from xmt.models.bn_stats import record_batchnorm_inputs
from xmt.pseudo_labels import PSEUDO_LABELS
from xmt.settings import check_declared, declared_values, setting

IGNORE = -1
KL_WEIGHTINGS = ("none", "confidence")
KL_TARGETS = ("sample", "cluster")
TGKT = "TGKT and its variants (0 switches a term off)"


@METHODS.register("tgkt")
@dataclass
class TgktObjective(Objective):
    name = "tgkt"
    summary = "the paper's"
    translations_off = "--beta-kl 0"
    guardable = True
    beta_kl: float = setting(1.0, "Weight of L_KL, distilling the source model's predictions on the translations.",
                             bounds=NON_NEGATIVE, panel=TGKT)
    temperature: float = setting(1.0, "Distillation temperature.", bounds=POSITIVE, panel=TGKT)
    kl_weighting: str = setting("none", "none (the paper's L_KL) or confidence (each translation's term scaled by "
                                "its teacher's confidence, 1 - H/log K).", choices=KL_WEIGHTINGS, panel=TGKT)
    kl_target: str = setting("sample", "What L_KL distils into each TR image: sample (its own translation's "
                             "prediction, the paper's) or cluster (the mean teacher prediction over its "
                             "pseudo-label cluster, so one bad translation is outvoted).", choices=KL_TARGETS,
                             panel=TGKT)
    guard_margin: float = setting(0.1, "With --guard-with: L_KL's weight is scaled by the teacher's estimated "
                                  "lead in accuracy over the best other predictor, divided by this, clipped to "
                                  "[0, 1].", bounds=Bounds(0.0, 1.0, min_open=True), panel=TGKT)
    beta_f: float = setting(0.5, "Weight of L_f, TI-guided feature alignment.", bounds=NON_NEGATIVE, panel=TGKT)
    feature_reduction: str = setting("frobenius", "L_f as frobenius (SOCKET's L_TI) or mean (per-sample L2).",
                                     choices=("frobenius", "mean"), panel=TGKT)
    beta_self: float = setting(0.3, "Weight of L_self, clustering pseudo-labels.", bounds=NON_NEGATIVE, panel=TGKT)
    clustering: str = setting("shot", "The pseudo-labels of L_self (and the clusters of --kl-target cluster): shot "
                              "(two rounds, cosine distance) or socket (one soft round, Euclidean distance).",
                              choices=PSEUDO_LABELS, panel=TGKT)
    confidence: float = setting(0.0, "Drop pseudo-labels whose probability is below this.", bounds=UNIT_INTERVAL,
                                panel=TGKT)
    beta_im: float = setting(1.0, "Weight of SHOT's information maximisation.", bounds=NON_NEGATIVE, panel=TGKT)
    # SOCKET's weight: with a weak teacher (poor translations) it carries TGKT (docs/methods.md)
    beta_bn: float = setting(0.5, "Weight of SOCKET's BatchNorm-statistics term.", bounds=NON_NEGATIVE, panel=TGKT)
    reference: tuple = field(default=(), repr=False)

    def __post_init__(self) -> None:
        check_declared(self)
        if not any((self.beta_kl, self.beta_f, self.beta_self, self.beta_im, self.beta_bn)):
            raise UserError("every TGKT loss weight is 0: nothing to train")

    def guarded(self, weight: float) -> "TgktObjective":
        """This objective with L_KL scaled by the guard's weight in [0, 1] (0: TGKT without L_KL)."""
        return replace(self, beta_kl=self.beta_kl * weight)

    @property
    def pseudo_labels(self) -> str | None:
        clusters = self.beta_self > 0 or (self.uses_translations and self.kl_target == "cluster")
        return self.clustering if clusters else None

    @property
    def uses_ti(self) -> bool:
        return self.beta_f > 0

    @property
    def uses_translations(self) -> bool:
        return self.beta_kl > 0

    def settings(self) -> dict:
        return declared_values(self)

    def epoch_teacher(self, teacher, pseudo):
        if self.kl_target == "cluster":
            return cluster_votes(teacher, pseudo.labels, teacher.shape[1])
        return teacher

    def setup(self, source, device):
        if self.beta_bn > 0:
            self.reference = source_statistics_reference(source, device, "TGKT")

    def distillation(self, teacher: torch.Tensor, logits: torch.Tensor,
                     weights: torch.Tensor | None) -> torch.Tensor:
        """L_KL of a batch: the teacher's probabilities distilled into the student's logits (a variant may
        distil another part of them)."""
        return kl_distillation(teacher, logits, self.temperature, weights)

    def loss(self, model, batch: Batch):
        recorder = record_batchnorm_inputs(model.backbone) if self.beta_bn > 0 else nullcontext()
        with recorder as bn:
            logits, _ = model(batch.x)
        logits = logits.float()
        terms: dict[str, torch.Tensor] = {}
        loss = logits.new_zeros(())
        if self.beta_kl > 0:
            weights = teacher_confidence(batch.teacher) if self.kl_weighting == "confidence" else None
            terms["kl"] = self.distillation(batch.teacher, logits, weights)
            loss = loss + self.beta_kl * terms["kl"]
        if self.beta_self > 0:
            keep = batch.pseudo.confidence >= self.confidence
            labels = torch.where(keep, batch.pseudo.labels, torch.full_like(batch.pseudo.labels, IGNORE))
            terms["self"] = pseudo_label_cross_entropy(logits, labels, ignore_index=IGNORE)
            loss = loss + self.beta_self * terms["self"]
        if self.beta_im > 0:
            terms["im"] = information_maximization(logits)
            loss = loss + self.beta_im * terms["im"]
        if self.beta_bn > 0 and bn.means:
            terms["bn"] = batchnorm_statistics_loss(bn.means, bn.vars, *self.reference,
                                                    socket_bn_layer_weights(len(bn.means)))
            loss = loss + self.beta_bn * terms["bn"]
        if self.beta_f > 0:
            _, ti_features = model(batch.ti_x)
            terms["f"] = feature_alignment(ti_features.float(), batch.ti_source_features,
                                           reduction=self.feature_reduction)
            loss = loss + self.beta_f * terms["f"]
        return loss, {k: v.detach() for k, v in terms.items()}
