"""The adaptation loop every transfer method shares (SHOT's recipe, baselines.md "Adaptation").

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
from dataclasses import asdict, dataclass, field
from typing import ClassVar

import torch

from xmt.data.batches import NativeImages, augment, index_batches
from xmt.data.encoding import EncodingRecipe
from xmt.engine.jsonlog import EpochLog
from xmt.engine.loop import Trainer
from xmt.engine.optim import sgd_param_groups, shot_schedule, shot_sgd
from xmt.engine.seeding import seed_everything
from xmt.bounds import COUNT, NON_NEGATIVE, POSITIVE, SEED, Bounds, check_settings
from xmt.errors import UserError
from xmt.losses import information_maximization_terms
from xmt.methods.inference import predict
from xmt.models.bn_stats import running_statistics
from xmt.models.classifier import Classifier
from xmt.pseudo_labels import PseudoLabels, class_histogram, label_change_fraction, shot_pseudo_labels, socket_pseudo_labels

SELECTIONS = ("last", "im")


@dataclass
class AdaptConfig:
    epochs: int = 15
    batch_size: int = 32
    lr: float = 1e-2
    backbone_lr_mult: float = 0.1
    weight_decay: float = 1e-3
    momentum: float = 0.9
    augment: bool = True
    select: str = "last"  # "im": the epoch whose snapshot has the lowest IM loss on TR images (label-free)
    seed: int = 0
    precision: str = "fp32"

    def check(self) -> None:
        if self.select not in SELECTIONS:
            raise UserError(f"--select {self.select}: expected one of {', '.join(SELECTIONS)}")
        check_settings({"--epochs": (self.epochs, COUNT), "--batch-size": (self.batch_size, COUNT),
                        "--lr": (self.lr, POSITIVE), "--backbone-lr-mult": (self.backbone_lr_mult, NON_NEGATIVE),
                        "--weight-decay": (self.weight_decay, NON_NEGATIVE),
                        "momentum": (self.momentum, Bounds(0.0, 1.0, max_open=True)), "--seed": (self.seed, SEED)})


@dataclass
class AdaptData:
    tr: NativeImages  # TR target images; labels are -1 unless the objective uses labels
    recipe: EncodingRecipe  # the target model's recipe
    ti_target: NativeImages | None = None  # TI pairs, target side
    ti_source_features: torch.Tensor | None = None  # (N_ti, D) frozen source bottleneck features of TI RGB
    teacher_probs: torch.Tensor | None = None  # (N_tr, K) source model on the translations (from bridge)


@dataclass
class Batch:
    x: torch.Tensor  # encoded (and augmented) TR images
    index: torch.Tensor  # their rows in AdaptData.tr
    pseudo: PseudoLabels | None = None
    teacher: torch.Tensor | None = None
    labels: torch.Tensor | None = None
    ti_x: torch.Tensor | None = None
    ti_source_features: torch.Tensor | None = None


@dataclass
class Snapshot:
    """The model's outputs on every TR image at the start of an epoch (eval mode, no augmentation)."""

    probs: torch.Tensor
    features: torch.Tensor

    def im_score(self) -> dict:
        terms = information_maximization_terms(torch.log(self.probs.clamp_min(1e-12)))
        return {"snapshot_im": terms.loss.item(), "snapshot_mean_entropy": terms.mean_entropy.item(),
                "snapshot_marginal_entropy": terms.marginal_entropy.item()}


class Objective:
    """A transfer method: what it needs and its loss on a batch."""

    name: ClassVar[str]
    pseudo_labels: ClassVar[str | None] = None  # "shot" | "socket" | None
    uses_ti: ClassVar[bool] = False
    uses_translations: ClassVar[bool] = False
    uses_labels: ClassVar[bool] = False

    def setup(self, source: Classifier, device: torch.device) -> None:
        """Called once before training, with the frozen source model."""

    def loss(self, model: Classifier, batch: Batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError

    def settings(self) -> dict:
        return asdict(self) if hasattr(self, "__dataclass_fields__") else {}


@dataclass
class AdaptResult:
    model: Classifier
    config: dict
    log: list[dict]
    selected_epoch: int
    pseudo_labels: torch.Tensor | None = field(default=None)


def make_pseudo_labels(kind: str, snapshot: Snapshot) -> PseudoLabels:
    if kind == "shot":
        return shot_pseudo_labels(snapshot.features, snapshot.probs)
    if kind == "socket":
        return socket_pseudo_labels(snapshot.features, snapshot.probs)
    raise ValueError(f"unknown pseudo-label kind {kind!r}")


def frozen_copy(model: Classifier) -> Classifier:
    source = copy.deepcopy(model).eval()
    for p in source.parameters():
        p.requires_grad_(False)
    return source


def adapt(source: Classifier, data: AdaptData, objective: Objective, config: AdaptConfig,
          device: torch.device, labels: torch.Tensor | None = None) -> AdaptResult:
    """Train a copy of `source` on the target data with `objective`; returns the selected model."""
    config.check()
    if objective.uses_labels != (labels is not None):
        raise ValueError("labels are given to, and only to, an objective that uses them")
    generator = seed_everything(config.seed)
    source = frozen_copy(source).to(device)
    model = copy.deepcopy(source).to(device).train()
    for p in model.head.parameters():
        p.requires_grad_(False)
    for p in model.feature_extractor_parameters():
        p.requires_grad_(True)
    objective.setup(source, device)

    optimizer = shot_sgd(sgd_param_groups([(model.backbone.parameters(), config.backbone_lr_mult),
                                           (model.bottleneck.parameters(), 1.0)], config.lr),
                         momentum=config.momentum, weight_decay=config.weight_decay)
    count = len(data.tr)
    steps = max(1, count // config.batch_size) if count >= config.batch_size else 1
    scheduler = shot_schedule(optimizer, config.epochs * steps)
    num_classes = source.num_classes
    state: dict = {"batches": [], "ti": [], "pseudo": None, "best": (math.inf, 0, None)}

    def take_snapshot() -> Snapshot:
        probs, features = predict(model, data.recipe, data.tr, device)
        return Snapshot(probs, features)

    def on_epoch_start(epoch: int) -> dict:
        snapshot = state.pop("next_snapshot", None) or take_snapshot()
        record = snapshot.im_score()
        if objective.pseudo_labels:
            previous = state["pseudo"]
            pseudo = make_pseudo_labels(objective.pseudo_labels, snapshot)
            record["pseudo_label_histogram"] = class_histogram(pseudo.labels.cpu(), num_classes).tolist()
            record["pseudo_label_changed"] = (label_change_fraction(previous.labels.cpu(), pseudo.labels.cpu())
                                              if previous is not None else None)
            state["pseudo"] = pseudo
        state["batches"] = index_batches(count, config.batch_size, True, generator, drop_last=True)[:steps]
        if objective.uses_ti:
            n_ti = len(data.ti_target)
            order = torch.cat([torch.randperm(n_ti, generator=generator)
                               for _ in range(math.ceil(steps * config.batch_size / n_ti))])
            state["ti"] = list(order[: steps * config.batch_size].split(config.batch_size))
        return record

    def on_epoch_end(epoch: int) -> dict:
        snapshot = take_snapshot()
        state["next_snapshot"] = snapshot
        score = snapshot.im_score()
        if config.select == "im" and score["snapshot_im"] <= state["best"][0]:
            state["best"] = (score["snapshot_im"], epoch + 1, copy.deepcopy(model.state_dict()))
        return {"end_" + k: v for k, v in score.items()}

    def step(epoch: int, i: int):
        index = state["batches"][i]
        x = data.tr.batch(index, data.recipe, device)
        if config.augment:
            x = augment(x, generator)
        batch = Batch(x=x, index=index)
        if state["pseudo"] is not None:
            batch.pseudo = PseudoLabels(state["pseudo"].labels[index].to(device),
                                        state["pseudo"].confidence[index].to(device))
        if objective.uses_translations:
            batch.teacher = data.teacher_probs[index].to(device)
        if objective.uses_labels:
            batch.labels = labels[index].to(device)
        if objective.uses_ti:
            ti_index = state["ti"][i]
            batch.ti_x = data.ti_target.batch(ti_index, data.recipe, device)
            batch.ti_source_features = data.ti_source_features[ti_index].to(device)
        with trainer.autocast():
            return objective.loss(model, batch)

    trainer = Trainer(device, config.precision, EpochLog(f"transfer[{objective.name}]"))
    log = trainer.fit(epochs=config.epochs, steps_per_epoch=steps, step=step, optimizer=optimizer,
                      scheduler=scheduler, on_epoch_start=on_epoch_start, on_epoch_end=on_epoch_end,
                      description=f"transfer {objective.name}")
    selected_epoch = config.epochs
    if config.select == "im":
        _, selected_epoch, best_state = state["best"]
        model.load_state_dict(best_state)
    model.eval()
    pseudo = state["pseudo"].labels.cpu() if state["pseudo"] is not None else None
    return AdaptResult(model, {**asdict(config), "objective": objective.settings()}, log, selected_epoch, pseudo)


def source_statistics_reference(source: Classifier, device: torch.device) -> tuple[list, list]:
    """The frozen source model's BatchNorm2d running means and variances, on `device`."""
    means, variances = running_statistics(source.backbone)
    return [m.to(device) for m in means], [v.to(device) for v in variances]
