"""TGMB's settings (`xmt bridge`'s options) and the criteria `--select` chooses the kept translator by."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from xmt.bounds import COUNT, NON_NEGATIVE, NON_NEGATIVE_INT, POSITIVE, SEED, Bounds, check_settings
from xmt.engine.loop import Selection
from xmt.errors import UserError
from xmt.losses import GAN_KINDS
from xmt.models.discriminator import NORMS, min_input_size
from xmt.models.translators import TRANSLATORS, build_translator, translators_help
from xmt.registry import Registry
from xmt.settings import check_declared, setting

# --select: which epoch's translator the bridge keeps, as the Selection the Trainer applies (as transfer's
# SELECTIONS). No criterion reads a label.
BRIDGE_SELECTIONS: Registry[Callable[[], Selection]] = Registry("bridge selection criterion")


def _ranking(name: str, key: str | None, mode: str, summary: str) -> None:
    """Register `--select name`: the translator of the epoch whose record has the lowest (mode "min") or highest
    ("max") `key`; the last epoch's where `key` is None."""

    def select() -> Selection:
        return Selection(key, mode, "translator")

    select.summary = summary
    BRIDGE_SELECTIONS.register(name)(select)


_ranking("last", None, "min", "the last")
_ranking("val-rec", "val_rec", "min", "the lowest L_rec on the held-out TI pairs")
_ranking("val-kl", "val_kl", "min", "the lowest KL of the source model's predictions on held-out TI translations "
         "against those on their RGB")
_ranking("val-perc", "val_perc", "min", "the lowest perceptual distance of held-out TI translations to their RGB")
_ranking("val-agreement", "val_source_agreement", "max", "the source model most often giving a held-out TI "
         "translation the class it gives its RGB")
# a translator whose TR translations the source model reads as one or two classes scores low
_ranking("tr-diversity", "tr_marginal_entropy", "max", "the highest entropy of the source model's mean prediction "
         "on TR translations")


def _selections_help() -> str:
    return "; ".join(f"{name} ({select.summary})" for name, select in BRIDGE_SELECTIONS.items())


TRAIN, LOSSES, DISCRIMINATOR = "Training", "Losses (0 switches a term off)", "Discriminator"


@dataclass
class BridgeConfig:
    translator: str = setting("unet", f"The translator: {translators_help()}.", choices=TRANSLATORS, panel=TRAIN)
    translator_args: dict = field(default_factory=dict)  # --translator-arg KEY=VALUE
    steps: int = setting(1000, "Optimiser steps of the translator, the same whatever the number of TI pairs "
                         "(rounded up to a multiple of --eval-every).", bounds=COUNT, panel=TRAIN)
    eval_every: int = setting(100, "Steps between the label-free checks on held-out TI pairs and TR translations "
                              "(each is a line of the log, a point --select may choose and a --resume point).",
                              bounds=COUNT, panel=TRAIN)
    epochs: int = setting(0, "Passes over the TI pairs instead of --steps (0: --steps decides); each pass is a "
                          "check and a resume point.", bounds=NON_NEGATIVE_INT, panel=TRAIN)
    batch_size: int = setting(32, "TI pairs (and as many TR images) a step.", bounds=COUNT, panel=TRAIN)
    lr: float = setting(2e-4, "Adam learning rate of the translator.", bounds=POSITIVE, panel=TRAIN)
    augment: bool = setting(False, "Paired augmentation of the TI pairs: the same random flip and shift of both "
                            "images of a pair.", panel=TRAIN)
    select: str = setting("last", f"Which epoch's translator to keep, by a label-free criterion: {_selections_help()}.",
                          choices=BRIDGE_SELECTIONS, panel=TRAIN)
    holdout_fraction: float = setting(0.1, "TI pairs held out to monitor L_rec, PSNR and the preview.",
                                      bounds=Bounds(0.0, 0.5), panel=TRAIN)
    alpha_rec: float = setting(1.0, "Weight of L_rec, MSE to the paired TI RGB (paper Eq. 1).", bounds=NON_NEGATIVE,
                               panel=LOSSES)
    alpha_perc: float = setting(0.0, "Weight of L_perc: feature maps of several blocks of the frozen source "
                                "backbone on a TI translation against those on its paired RGB (ours).",
                                bounds=NON_NEGATIVE, panel=LOSSES)
    alpha_kl: float = setting(0.0, "Weight of L_kl: KL of the source model's predictions on a TI translation from "
                              "those on its paired RGB (ours).", bounds=NON_NEGATIVE, panel=LOSSES)
    alpha_d: float = setting(0.05, "Weight of the adversarial loss (0: no discriminator).", bounds=NON_NEGATIVE,
                             panel=LOSSES)
    alpha_im: float = setting(0.1, "Weight of the source model's information maximisation on translated TR "
                              "images.", bounds=NON_NEGATIVE, panel=LOSSES)
    alpha_bn: float = setting(0.0, "Weight of BatchNorm-statistics matching inside the source model (ours).",
                              bounds=NON_NEGATIVE, panel=LOSSES)
    alpha_feat: float = setting(0.0, "Weight of the source-feature distance on TI pairs (ours).", bounds=NON_NEGATIVE,
                                panel=LOSSES)
    d_lr: float = setting(2e-4, "Adam learning rate of the discriminator.", bounds=POSITIVE, panel=DISCRIMINATOR)
    d_layers: int = setting(3, "Stride-2 layers of the PatchGAN discriminator: each of its logits sees a patch of "
                            "16 (1), 34 (2), 70 (3) or 142 (4) pixels; keep it below the image size, or the "
                            "discriminator can tell scenes apart rather than real from translated.",
                            bounds=Bounds(1, 4, integer=True), panel=DISCRIMINATOR)
    d_norm: str = setting("instance", "Normalisation of the discriminator's layers.", choices=NORMS,
                          panel=DISCRIMINATOR)
    d_spectral_norm: bool = setting(False, "Spectral normalisation of the discriminator's convolutions (bounds how "
                                    "fast its judgement can change: a steadier adversary).", panel=DISCRIMINATOR)
    gan_loss: str = setting("nonsaturating", "The adversarial loss.", choices=GAN_KINDS, panel=DISCRIMINATOR)
    save_epochs: bool = setting(False, "Also keep every epoch's translator (epochs/translator-eNNN.safetensors), "
                                "to study or choose among them later.", panel=TRAIN)
    seed: int = 0
    precision: str = "fp32"

    def check(self, size: int | None = None, channels: int = 1) -> None:
        """Refuse settings that cannot train, building the translator once. With `size` (run_bridge checks once,
        when it knows the source model's), the translator is also run on a blank batch of such images, so that
        an argument that does not fit them (a vq downsampling the size is not a multiple of, another channel
        count) stops the run before any data is loaded."""
        TRANSLATORS.get(self.translator)  # an unknown name stops here, listing the known ones
        self._check_translator_fits(size, channels)
        check_declared(self)
        check_settings({"--seed": (self.seed, SEED)})

    def check_discriminator_fits(self, size: int) -> None:
        """A discriminator deeper than the images allow would leave no logit (checked once the inputs are)."""
        if self.alpha_d > 0 and size < min_input_size(self.d_layers):
            raise UserError(f"--d-layers {self.d_layers}: the discriminator needs images of at least "
                            f"{min_input_size(self.d_layers)} pixels, these are {size}")

    def _check_translator_fits(self, size: int | None, channels: int) -> None:
        args = " ".join(f"{k}={v}" for k, v in self.translator_args.items())
        try:
            translator = build_translator(self.translator, **self.translator_args).eval()
            if size is not None:
                with torch.no_grad():
                    translator(torch.zeros(1, channels, size, size))
        except (TypeError, ValueError, RuntimeError) as exc:
            detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            fit = f" does not fit the source model's {size}x{size} images" if size is not None else ""
            raise UserError(f"--translator {self.translator}{' ' + args if args else ''}{fit}: {detail}")
