"""Training the RGB source model with SHOT's recipe (docs/methods.md, "The source model").

Label-smoothed cross-entropy (0.1), SGD with Nesterov momentum, lr 1e-2 for the bottleneck and
head and 0.1x for the backbone, lr_0 * (1 + 10 t/T)^-0.75, batch 32, a stratified 90/10
split, and the epoch with the best accuracy on the validation split is kept. Source labels may
be used for selection: they are the source domain's own labels, not the target's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch

from xmt.data.batches import (NativeImages, apply_augmentation, apply_resized_crop, draw_epoch_augmentation,
                              draw_resized_crops, index_batches, load_native, to_device_batches)
from xmt.data.encoding import EncodingRecipe
from xmt.data.sets.image_set import ImageSet
from xmt.engine.loop import Procedure, Selection, Trainer
from xmt.engine.optim import sgd_param_groups, shot_schedule, shot_sgd
from xmt.engine.run_state import RunState
from xmt.bounds import COUNT, NON_NEGATIVE, NON_NEGATIVE_INT, POSITIVE, SEED, Bounds, check_settings
from xmt.errors import UserError
from xmt.losses import label_smoothed_cross_entropy
from xmt.methods.inference import score
from xmt.models.classifier import Classifier
from xmt.models.backbones import trainable_backbones
from xmt.models.pretrained import load_pretrained
from xmt.settings import check_declared, setting


@dataclass
class SourceConfig:
    backbone: str = setting("mobilenet_v2", "The network the classifier is built on.", choices=trainable_backbones())
    pretrained: str = setting("auto", "auto (ImageNet where the backbone has weights; smallcnn: none), imagenet, "
                              "none, or PATH to a state dict.")
    epochs: int = setting(20, "Passes over the training split.", bounds=COUNT)
    batch_size: int = setting(32, "Images a step.", bounds=COUNT)
    lr: float = setting(1e-2, "Learning rate of bottleneck and head; the backbone gets lr x backbone-lr-mult.",
                        bounds=POSITIVE)
    backbone_lr_mult: float = setting(0.1, "The backbone's share of --lr.", bounds=NON_NEGATIVE)
    weight_decay: float = setting(1e-3, "SGD weight decay.", bounds=NON_NEGATIVE)
    momentum: float = 0.9
    label_smoothing: float = setting(0.1, "Label smoothing of the cross-entropy.",
                                     bounds=Bounds(0.0, 1.0, max_open=True))
    val_fraction: float = setting(0.1, "Share of each class held out to pick the best epoch.", bounds=Bounds(0.0, 0.9))
    size: int = setting(64, "Input size in pixels (shorter side resized, centre crop).",
                        bounds=Bounds(8, 4096, integer=True))
    bottleneck_dim: int = 256
    augment: bool = setting(True, "Random flips and shifts.")
    crop_area: float = setting(1.0, "Random resized crops, as ImageNet training makes them: each training image a "
                               "crop of this fraction of its area or more (aspect 3/4 to 4/3), resized back to "
                               "--size, so that the model also learns from magnified, blurred views (1: off).",
                               bounds=Bounds(0.01, 1.0))
    seed: int = 0
    precision: str = "fp32"
    workers: int = 0

    def check(self) -> None:
        """Refuse out-of-range or non-finite settings (the CLI checks them at parse time too)."""
        check_declared(self)
        check_settings({"momentum": (self.momentum, Bounds(0.0, 1.0, max_open=True)),
                        "bottleneck_dim": (self.bottleneck_dim, COUNT), "--seed": (self.seed, SEED),
                        "--workers": (self.workers, NON_NEGATIVE_INT)})


@dataclass
class SourceResult:
    model: Classifier
    recipe: EncodingRecipe
    classes: list[str]
    config: dict
    log: list[dict]
    best_epoch: int
    val_accuracy: float | None
    pretrained_sha256: str = ""
    split: dict = field(default_factory=dict)


def resolve_pretrained(backbone: str, pretrained: str) -> str:
    if pretrained != "auto":
        return pretrained
    return "none" if backbone == "smallcnn" else "imagenet"


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, val): `fraction` of each class (at least one when it has two or more) to val."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_val = int(round(fraction * len(members)))
        if fraction > 0 and len(members) >= 2:
            n_val = min(max(n_val, 1), len(members) - 1)
        val += members[:n_val].tolist()
        train += members[n_val:].tolist()
    return np.sort(np.array(train, np.int64)), np.sort(np.array(val, np.int64))


class SourceTraining(Procedure):
    """Label-smoothed cross-entropy on the source images; the epoch with the best validation accuracy is kept."""

    name = "train-source"
    selection = Selection("val_accuracy", "max")

    def __init__(self, model: Classifier, native: NativeImages, labels: np.ndarray, recipe: EncodingRecipe,
                 classes: list[str], train_idx: np.ndarray, val_idx: np.ndarray, config: SourceConfig,
                 device: torch.device):
        self.model, self.native, self.recipe, self.classes = model, native, recipe, classes
        self.labels, self.train_idx, self.val_idx = labels, train_idx, val_idx
        self.config, self.device = config, device
        self.optimizer = shot_sgd(
            sgd_param_groups([(model.backbone.parameters(), config.backbone_lr_mult),
                              (list(model.bottleneck.parameters()) + list(model.head.parameters()), 1.0)],
                             config.lr),
            momentum=config.momentum, weight_decay=config.weight_decay,
        )
        self.epochs = config.epochs
        self.steps_per_epoch = (max(1, len(train_idx) // config.batch_size)
                                if len(train_idx) >= config.batch_size else 1)
        self.scheduler = shot_schedule(self.optimizer, config.epochs * self.steps_per_epoch)
        self.train_labels = torch.from_numpy(labels).to(device)
        self.batches: list[torch.Tensor] = []
        self.augmentation: list[tuple[torch.Tensor, ...]] = []
        self.crops: list[torch.Tensor] = []

    def modules(self):
        return {"model": self.model}

    def optimizers(self):
        return {"sgd": self.optimizer}

    def schedulers(self):
        return {"shot": self.scheduler}

    def start_epoch(self, epoch: int, loop: Trainer) -> None:
        order = index_batches(len(self.train_idx), self.config.batch_size, True, loop.generator, drop_last=True)
        self.batches = to_device_batches([torch.from_numpy(self.train_idx)[b] for b in order[:self.steps_per_epoch]],
                                         self.device)
        if self.config.augment:
            self.augmentation = draw_epoch_augmentation(loop.generator, [len(b) for b in self.batches], self.device)
        if self.config.crop_area < 1:  # drawn last: without crops the generator's stream is as it was
            self.crops = [draw_resized_crops(loop.generator, len(b), self.config.crop_area).to(self.device)
                          for b in self.batches]

    def step(self, epoch: int, i: int, loop: Trainer):
        indices = loop.shard(self.batches[i])
        x = self.native.batch(indices, self.recipe, self.device)
        if self.config.augment:
            x = apply_augmentation(x, *map(loop.shard, self.augmentation[i]))
        if self.config.crop_area < 1:
            x = apply_resized_crop(x, loop.shard(self.crops[i]))
        with loop.autocast():
            logits, _ = self.model(x)
        loss = label_smoothed_cross_entropy(logits.float(), self.train_labels[indices], self.config.label_smoothing)
        return loss, {}

    def end_epoch(self, epoch: int, loop: Trainer) -> dict:
        if len(self.val_idx) == 0:
            return {}  # no validation split: the last epoch is kept
        val = self.val_idx
        val_images = NativeImages(self.native.images[val], self.native.labels[val], [])
        return {"val_accuracy": score(self.model, self.recipe, val_images, self.labels[val], self.classes,
                                      self.device)["accuracy"]}


def train_source(image_set: ImageSet, config: SourceConfig, device: torch.device,
                 run_state: RunState | None = None) -> SourceResult:
    if not image_set.labelled:
        raise UserError("source training needs labelled RGB images (DIR/<class>/<file>)", path=image_set.source)
    config.check()
    if len(image_set.classes) < 2:
        raise UserError(f"source training needs at least 2 classes; found {len(image_set.classes)} "
                        f"({', '.join(image_set.classes) or 'none'})", path=image_set.source)
    config = replace(config, pretrained=resolve_pretrained(config.backbone, config.pretrained))
    trainer = Trainer(device, config.precision, seed=config.seed, log_name="train-source", run_state=run_state)
    recipe = EncodingRecipe.for_modality("rgb", size=config.size)
    classes = list(image_set.classes)
    native = load_native(image_set, recipe, config.workers)
    train_idx, val_idx = stratified_split(image_set.labels, config.val_fraction, config.seed)

    model = Classifier(config.backbone, len(classes), config.bottleneck_dim)
    weights_sha = load_pretrained(config.backbone, model.backbone, config.pretrained)
    model.to(device).train()
    procedure = SourceTraining(model, native.to(device), image_set.labels, recipe, classes, train_idx, val_idx,
                               config, device)
    fitted = trainer.fit(procedure)
    model.eval()
    return SourceResult(model, recipe, classes, asdict(config), fitted.log, fitted.selected_epoch,
                        fitted.selected_value, weights_sha, {"train": len(train_idx), "val": len(val_idx)})
