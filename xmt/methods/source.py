"""Training the RGB source model with SHOT's recipe (baselines.md, "Source training").

Label-smoothed cross-entropy (0.1), SGD with Nesterov momentum, lr 1e-2 for the bottleneck and
head and 0.1x for the backbone, lr_0 * (1 + 10 t/T)^-0.75, batch 32, a stratified 90/10
split, and the epoch with the best accuracy on the validation split is kept. Source labels may
be used for selection: they are the source domain's own labels, not the target's.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch

from xmt.data.batches import NativeImages, augment, index_batches, load_native
from xmt.data.encoding import EncodingRecipe
from xmt.data.readers import ImageSet
from xmt.engine.jsonlog import EpochLog
from xmt.engine.loop import Trainer
from xmt.engine.optim import sgd_param_groups, shot_schedule, shot_sgd
from xmt.engine.seeding import seed_everything
from xmt.bounds import COUNT, NON_NEGATIVE, NON_NEGATIVE_INT, POSITIVE, SEED, Bounds, check_settings
from xmt.errors import UserError
from xmt.losses import label_smoothed_cross_entropy
from xmt.methods.inference import score
from xmt.models.classifier import Classifier
from xmt.models.pretrained import load_pretrained


@dataclass
class SourceConfig:
    backbone: str = "mobilenet_v2"
    pretrained: str = "auto"  # auto: ImageNet weights where the backbone has them, else none
    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-2
    backbone_lr_mult: float = 0.1
    weight_decay: float = 1e-3
    momentum: float = 0.9
    label_smoothing: float = 0.1
    val_fraction: float = 0.1
    size: int = 64
    bottleneck_dim: int = 256
    augment: bool = True
    seed: int = 0
    precision: str = "fp32"
    workers: int = 0

    def check(self) -> None:
        """Refuse out-of-range or non-finite settings (the CLI checks them at parse time too)."""
        check_settings({"--epochs": (self.epochs, COUNT), "--batch-size": (self.batch_size, COUNT),
                        "--lr": (self.lr, POSITIVE), "--backbone-lr-mult": (self.backbone_lr_mult, NON_NEGATIVE),
                        "--weight-decay": (self.weight_decay, NON_NEGATIVE),
                        "momentum": (self.momentum, Bounds(0.0, 1.0, max_open=True)),
                        "--label-smoothing": (self.label_smoothing, Bounds(0.0, 1.0, max_open=True)),
                        "--val-fraction": (self.val_fraction, Bounds(0.0, 0.9)),
                        "--size": (self.size, Bounds(8, 4096, integer=True)),
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


def train_source(image_set: ImageSet, config: SourceConfig, device: torch.device) -> SourceResult:
    if not image_set.labelled:
        raise UserError("source training needs labelled RGB images (DIR/<class>/<file>)", path=image_set.source)
    config.check()
    if len(image_set.classes) < 2:
        raise UserError(f"source training needs at least 2 classes; found {len(image_set.classes)} "
                        f"({', '.join(image_set.classes) or 'none'})", path=image_set.source)
    config = replace(config, pretrained=resolve_pretrained(config.backbone, config.pretrained))
    generator = seed_everything(config.seed)
    recipe = EncodingRecipe.for_modality("rgb", size=config.size)
    classes = list(image_set.classes)
    native = load_native(image_set, recipe, config.workers)
    train_idx, val_idx = stratified_split(image_set.labels, config.val_fraction, config.seed)

    model = Classifier(config.backbone, len(classes), config.bottleneck_dim)
    weights_sha = load_pretrained(config.backbone, model.backbone, config.pretrained)
    model.to(device).train()
    optimizer = shot_sgd(
        sgd_param_groups([(model.backbone.parameters(), config.backbone_lr_mult),
                          (list(model.bottleneck.parameters()) + list(model.head.parameters()), 1.0)], config.lr),
        momentum=config.momentum, weight_decay=config.weight_decay,
    )
    steps = max(1, len(train_idx) // config.batch_size) if len(train_idx) >= config.batch_size else 1
    scheduler = shot_schedule(optimizer, config.epochs * steps)
    train_labels = torch.from_numpy(image_set.labels)
    state = {"batches": [], "best": (-1.0, 0, None)}

    def on_epoch_start(epoch: int) -> None:
        order = index_batches(len(train_idx), config.batch_size, True, generator, drop_last=True)
        state["batches"] = [torch.from_numpy(train_idx)[b] for b in order[:steps]]

    def step(epoch: int, i: int):
        indices = state["batches"][i]
        x = native.batch(indices, recipe, device)
        if config.augment:
            x = augment(x, generator)
        with trainer.autocast():
            logits, _ = model(x)
        loss = label_smoothed_cross_entropy(logits.float(), train_labels[indices].to(device), config.label_smoothing)
        return loss, {}

    def on_epoch_end(epoch: int) -> dict:
        if len(val_idx) == 0:
            state["best"] = (math.nan, epoch + 1, None)
            return {}
        val_images = NativeImages(native.images[val_idx], native.labels[val_idx], [])
        accuracy = score(model, recipe, val_images, image_set.labels[val_idx], classes, device)["accuracy"]
        if accuracy >= state["best"][0]:
            state["best"] = (accuracy, epoch + 1, copy.deepcopy(model.state_dict()))
        return {"val_accuracy": accuracy}

    trainer = Trainer(device, config.precision, EpochLog("train-source"))
    log = trainer.fit(epochs=config.epochs, steps_per_epoch=steps, step=step, optimizer=optimizer,
                      scheduler=scheduler, on_epoch_start=on_epoch_start, on_epoch_end=on_epoch_end,
                      description="train-source")
    best_accuracy, best_epoch, best_state = state["best"]
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return SourceResult(
        model, recipe, classes, asdict(config), log, best_epoch,
        None if best_state is None else best_accuracy, weights_sha,
        {"train": len(train_idx), "val": len(val_idx)},
    )
