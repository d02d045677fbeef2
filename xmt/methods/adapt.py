"""The adaptation loop every transfer method shares (SHOT's recipe; docs/methods.md, "Shared by every
target method").

The target model starts as a copy of the source model and reads the raw target modality through
its own recipe. Backbone (lr x0.1) and bottleneck train, the head stays frozen; SGD with Nesterov
momentum, lr_0 (1 + 10 t/T)^-0.75, batch 32, 15 epochs. Each epoch starts from a snapshot of the
current model on every TR image (eval mode): probabilities and features, from which clustering
pseudo-labels are refreshed. A method is an `Objective`: which inputs it needs and its loss.

TR labels never reach an objective unless it declares `uses_labels` (the oracle only); the
data handed to the others carries -1 everywhere.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Callable

import torch

from xmt.data.batches import (NativeImages, apply_augmentation, draw_epoch_augmentation, index_batches,
                              to_device_batches)
from xmt.data.encoding import EncodingRecipe
from xmt.engine.console import warn
from xmt.engine.distributed import gather_rows, shard, world_size
from xmt.engine.loop import Procedure, Selection, Trainer
from xmt.engine.optim import sgd_param_groups, shot_schedule, shot_sgd
from xmt.engine.run_state import RunState
from xmt.bounds import COUNT, NON_NEGATIVE, POSITIVE, SEED, Bounds, check_settings
from xmt.losses import information_maximization_terms
from xmt.methods.inference import predict
from xmt.methods.objective import METHODS, Batch, Objective  # noqa: F401 (the method API, re-exported)
from xmt.models.bn_stats import running_statistics
from xmt.models.classifier import Classifier
from xmt.pseudo_labels import PSEUDO_LABELS, PseudoLabels, class_histogram, label_change_fraction
from xmt.registry import Registry
from xmt.settings import check_declared, setting

# --select: which epoch's weights a transfer keeps, as the Selection the Trainer applies.
SELECTIONS: Registry[Callable[[], Selection]] = Registry("selection criterion")


@SELECTIONS.register("last")
def last_epoch() -> Selection:
    return Selection()


@SELECTIONS.register("im")
def lowest_snapshot_im() -> Selection:
    """The epoch whose end-of-epoch snapshot has the lowest IM loss on the TR images (label-free)."""
    return Selection("end_snapshot_im", "min")


@dataclass
class AdaptConfig:
    epochs: int = setting(15, "Passes over the TR images.", bounds=COUNT)
    batch_size: int = setting(32, "TR images a step (the global batch under torchrun).", bounds=COUNT)
    lr: float = setting(1e-2, "Learning rate of the bottleneck; the backbone gets lr x backbone-lr-mult.",
                        bounds=POSITIVE)
    backbone_lr_mult: float = setting(0.1, "The backbone's share of --lr.", bounds=NON_NEGATIVE)
    weight_decay: float = setting(1e-3, "SGD weight decay.", bounds=NON_NEGATIVE)
    momentum: float = 0.9
    augment: bool = setting(True, "Random flips and shifts of TR images.")
    select: str = setting("last", "Which epoch to keep: last, or im (lowest information-maximisation loss on the "
                          "TR images; label-free).", choices=SELECTIONS)
    seed: int = 0
    precision: str = "fp32"

    def check(self) -> None:
        check_declared(self)
        check_settings({"momentum": (self.momentum, Bounds(0.0, 1.0, max_open=True)), "--seed": (self.seed, SEED)})


@dataclass
class AdaptData:
    tr: NativeImages  # TR target images; labels are -1 unless the objective uses labels
    recipe: EncodingRecipe  # the target model's recipe
    ti_target: NativeImages | None = None  # TI pairs, target side
    ti_source_features: torch.Tensor | None = None  # (N_ti, D) frozen source bottleneck features of TI RGB
    teacher_probs: torch.Tensor | None = None  # (N_tr, K) source model on the translations (from bridge)


@dataclass
class Snapshot:
    """The model's outputs on every TR image at the start of an epoch (eval mode, no augmentation)."""

    probs: torch.Tensor
    features: torch.Tensor

    def im_score(self) -> dict:
        terms = information_maximization_terms(torch.log(self.probs.clamp_min(1e-12)))
        return {"snapshot_im": terms.loss.item(), "snapshot_mean_entropy": terms.mean_entropy.item(),
                "snapshot_marginal_entropy": terms.marginal_entropy.item()}


@dataclass
class AdaptResult:
    model: Classifier
    config: dict
    log: list[dict]
    selected_epoch: int
    pseudo_labels: torch.Tensor | None = field(default=None)


def make_pseudo_labels(kind: str, snapshot: Snapshot) -> PseudoLabels:
    """The pseudo-labels of `kind` (a name in PSEUDO_LABELS) from an epoch's snapshot."""
    return PSEUDO_LABELS.get(kind)(snapshot.features, snapshot.probs)


class Adaptation(Procedure):
    """A copy of the source model trained on the TR images with an objective (module docstring)."""

    def __init__(self, source: Classifier, data: AdaptData, objective: Objective, config: AdaptConfig,
                 device: torch.device, labels: torch.Tensor | None):
        self.data, self.objective, self.config, self.device = data, objective, config, device
        self.name = f"transfer {objective.name}"
        self.selection = SELECTIONS.create(config.select)
        self.model = copy.deepcopy(source).to(device).train()
        groups = objective.trainable(self.model, config)
        for p in self.model.parameters():
            p.requires_grad_(False)
        for params, _ in groups:
            for p in params:
                p.requires_grad_(True)
        objective.setup(source, device)
        self.optimizer = shot_sgd(sgd_param_groups(groups, config.lr), momentum=config.momentum,
                                  weight_decay=config.weight_decay)
        count = len(data.tr)
        self.epochs = config.epochs
        self.steps_per_epoch = max(1, count // config.batch_size) if count >= config.batch_size else 1
        self.scheduler = shot_schedule(self.optimizer, config.epochs * self.steps_per_epoch)
        self.num_classes = source.num_classes
        self.labels = labels.to(device) if labels is not None else None
        self.teacher = data.teacher_probs.to(device) if data.teacher_probs is not None else None
        self.epoch_teacher = self.teacher
        self.ti_features = data.ti_source_features.to(device) if data.ti_source_features is not None else None
        self.pseudo: PseudoLabels | None = None
        self.next_snapshot: Snapshot | None = None  # the end-of-epoch snapshot is the next epoch's start
        self.batches: list[torch.Tensor] = []
        self.ti_batches: list[torch.Tensor] = []
        self.augmentation: list[tuple[torch.Tensor, ...]] = []

    def modules(self):
        return {"model": self.model}

    def optimizers(self):
        return {"sgd": self.optimizer}

    def schedulers(self):
        return {"shot": self.scheduler}

    def state_dict(self) -> dict:
        pseudo = None if self.pseudo is None else {"labels": self.pseudo.labels, "confidence": self.pseudo.confidence}
        return {"pseudo": pseudo}

    def load_state_dict(self, state: dict) -> None:
        pseudo = state.get("pseudo")
        self.pseudo = None if pseudo is None else PseudoLabels(pseudo["labels"].to(self.device),
                                                               pseudo["confidence"].to(self.device))

    def take_snapshot(self) -> Snapshot:
        """The model on every TR image; under torchrun each process scores its shard and all gather them."""
        if world_size() == 1:
            return Snapshot(*predict(self.model, self.data.recipe, self.data.tr, self.device))
        count = len(self.data.tr)
        mine = self.data.tr.subset(shard(torch.arange(count, device=self.data.tr.labels.device)))
        probs, features = (t.to(self.device) for t in predict(self.model, self.data.recipe, mine, self.device))
        return Snapshot(gather_rows(probs, count).cpu(), gather_rows(features, count).cpu())

    def start_epoch(self, epoch: int, loop: Trainer) -> dict:
        snapshot, self.next_snapshot = self.next_snapshot or self.take_snapshot(), None
        record = snapshot.im_score()
        if self.objective.pseudo_labels:
            previous = self.pseudo
            pseudo = make_pseudo_labels(self.objective.pseudo_labels, snapshot)
            labels = pseudo.labels.cpu()  # once per epoch, for the log
            record["pseudo_label_histogram"] = class_histogram(labels, self.num_classes).tolist()
            record["pseudo_label_changed"] = (label_change_fraction(previous.labels.cpu(), labels)
                                              if previous is not None else None)
            self.pseudo = PseudoLabels(pseudo.labels.to(self.device), pseudo.confidence.to(self.device))
        if self.objective.uses_translations:
            self.epoch_teacher = self.objective.epoch_teacher(self.teacher, self.pseudo)
        config, steps = self.config, self.steps_per_epoch
        batches = index_batches(len(self.data.tr), config.batch_size, True, loop.generator, drop_last=True)[:steps]
        self.batches = to_device_batches(batches, self.device)
        if self.objective.uses_ti:
            n_ti = len(self.data.ti_target)
            order = torch.cat([torch.randperm(n_ti, generator=loop.generator)
                               for _ in range(math.ceil(steps * config.batch_size / n_ti))])
            self.ti_batches = to_device_batches(list(order[: steps * config.batch_size].split(config.batch_size)),
                                                self.device)
        if config.augment:
            self.augmentation = draw_epoch_augmentation(loop.generator, [len(b) for b in self.batches], self.device)
        return record

    def end_epoch(self, epoch: int, loop: Trainer) -> dict:
        self.next_snapshot = self.take_snapshot()
        return {"end_" + k: v for k, v in self.next_snapshot.im_score().items()}

    def step(self, epoch: int, i: int, loop: Trainer):
        index = loop.shard(self.batches[i])
        x = self.data.tr.batch(index, self.data.recipe, self.device)
        if self.config.augment:
            x = apply_augmentation(x, *map(loop.shard, self.augmentation[i]))
        batch = Batch(x=x, index=index)
        if self.pseudo is not None:
            batch.pseudo = PseudoLabels(self.pseudo.labels[index], self.pseudo.confidence[index])
        if self.objective.uses_translations:
            batch.teacher = self.epoch_teacher[index]
        if self.objective.uses_labels:
            batch.labels = self.labels[index]
        if self.objective.uses_ti:
            ti_index = loop.shard(self.ti_batches[i])
            batch.ti_x = self.data.ti_target.batch(ti_index, self.data.recipe, self.device)
            batch.ti_source_features = self.ti_features[ti_index]
        with loop.autocast():
            return self.objective.loss(self.model, batch)


def adapt(source: Classifier, data: AdaptData, objective: Objective, config: AdaptConfig,
          device: torch.device, labels: torch.Tensor | None = None, run_state: RunState | None = None) -> AdaptResult:
    """Train a copy of `source` on the target data with `objective`; returns the selected model."""
    config.check()
    if objective.uses_labels != (labels is not None):
        raise ValueError("labels are given to, and only to, an objective that uses them")
    trainer = Trainer(device, config.precision, seed=config.seed, log_name=f"transfer[{objective.name}]",
                      run_state=run_state)
    data = replace(data, tr=data.tr.to(device),
                   ti_target=data.ti_target.to(device) if data.ti_target is not None else None)
    procedure = Adaptation(source, data, objective, config, device, labels)
    fitted = trainer.fit(procedure)
    model = procedure.model.eval()
    pseudo = procedure.pseudo.labels.cpu() if procedure.pseudo is not None else None
    return AdaptResult(model, {**asdict(config), "objective": objective.settings()}, fitted.log,
                       fitted.selected_epoch, pseudo)


def source_statistics_reference(source: Classifier, device: torch.device, method: str) -> tuple[list, list]:
    """The frozen source model's BatchNorm2d running means and variances, on `device`. A backbone without
    BatchNorm2d (ConvNeXt, a ViT) has nothing to match: the L_BN sum is then empty, and 0, which is said."""
    means, variances = running_statistics(source.backbone)
    if not means:
        warn(f"the source model's backbone ({source.backbone_description}) has no BatchNorm2d "
             f"layers: {method}'s BatchNorm-statistics term is empty and contributes 0")
    return [m.to(device) for m in means], [v.to(device) for v in variances]
