"""TGMB, task-irrelevant data-guided modality bridging (docs/methods.md, "TGMB"): the training and its
label-free monitoring; the settings are in tgmb_config.py, the translation of a whole set in inference.py.

A translator T learns to turn target-modality images (depth, NIR...) into source-like RGB that the
frozen source model f_s can read. It trains on the paired TI data and on the unlabelled TR target
images; f_s stays frozen and in eval mode throughout; only T and the discriminator D train:

    L = alpha_rec * L_rec      MSE(T(x_t^TI), x_s^TI) in f_s's normalised input space (paper Eq. 1)
      + alpha_d   * L_D        fool a PatchGAN D telling TI RGB from translated TR images
      + alpha_im  * L_IM       information maximisation of f_s on translated TR images
      + alpha_bn  * L_bn       [ours] BN statistics of translated TR images inside f_s vs its running stats
      + alpha_feat * L_feat    [ours] distance of f_s features of T(x_t^TI) and x_s^TI
      + T's own auxiliary loss (the vq translator's codebook and commitment loss)

Nothing here reads a TR label. Per-epoch figures are label-free: L_rec and PSNR on held-out TI
pairs, agreement of f_s on held-out translations with f_s on their real RGB, and f_s's mean and
marginal entropy on translated TR images.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from xmt.agreement import cohen_kappa
from xmt.data.batches import (NativeImages, apply_augmentation, draw_epoch_augmentation, index_batches,
                              to_device_batches)
from xmt.data.encoding import EncodingRecipe
from xmt.engine.loop import Procedure, Trainer
from xmt.engine.run_state import RunState
from xmt.losses import (
    batchnorm_statistics_loss,
    feature_alignment,
    gan_discriminator_loss,
    gan_generator_loss,
    information_maximization,
    kl_distillation,
    marginal_entropy,
    mean_entropy,
    perceptual_distance,
    reconstruction_mse,
    socket_bn_layer_weights,
)
from xmt.models.bn_stats import record_batchnorm_inputs, record_feature_maps, running_statistics
from xmt.models.classifier import Classifier
from xmt.models.discriminator import build_discriminator
from xmt.models.translators import Translator, build_translator
from xmt.errors import UserError
from xmt.methods.tgmb_config import BRIDGE_SELECTIONS, BridgeConfig

_EVAL_BATCH = 256
_TR_MONITOR = 512  # TR images whose translations are scored each epoch
PERCEPTUAL_LAYERS = 4  # feature maps of L_perc, spread over the source backbone's depth


@dataclass
class BridgeData:
    """Everything bridge trains on, in memory: TI pairs (row-aligned) and the TR target images."""

    ti_rgb: NativeImages  # uint8 (N, 3, S, S)
    ti_target: NativeImages  # native target units (N, 1, S, S)
    tr_target: NativeImages
    source_recipe: EncodingRecipe  # the source model's (RGB) recipe: T's output is normalised with it
    target_recipe: EncodingRecipe  # how T reads target images (value scaling only)


@dataclass
class BridgeResult:
    translator: Translator
    config: dict
    log: list[dict]
    holdout: np.ndarray  # TI rows held out for monitoring and the preview
    # the kept translator on the held-out TI pairs: how much of the source model's reading of the real RGB
    # its translations keep ({"pairs", "source_agreement", "source_kappa"}; empty with no pair held out)
    holdout_check: dict = field(default_factory=dict)
    epoch_translators: list[dict] = field(default_factory=list)  # with save_epochs: each epoch's weights


def split_holdout(count: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The TI rows a bridge of this seed trains on and those it holds out (at least one of each)."""
    order = np.random.default_rng(seed).permutation(count)
    n_out = min(count - 1, max(1, int(round(fraction * count)))) if fraction > 0 and count > 1 else 0
    return np.sort(order[n_out:]), np.sort(order[:n_out])


def _cycled(count: int, steps: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """`steps` batches of indices into `count` rows, drawn through as many fresh permutations as they need."""
    order = torch.cat([torch.randperm(count, generator=generator)
                       for _ in range(math.ceil(steps * batch_size / count))])
    return list(order[: steps * batch_size].split(batch_size))


def psnr(mse: float) -> float:
    """Peak signal-to-noise ratio of images in [0, 1], in dB."""
    return 10 * math.log10(1.0 / max(mse, 1e-12))


class Bridge(Procedure):
    """The TGMB training state: translator, discriminator, frozen source model, their optimisers and losses."""

    name = "bridge"

    def __init__(self, source: Classifier, data: BridgeData, config: BridgeConfig, device: torch.device,
                 generator: torch.Generator):
        self.source, self.data, self.config, self.device = source, data, config, device
        self.source.to(device).eval()
        for p in self.source.parameters():
            p.requires_grad_(False)
        self.translator = build_translator(config.translator, **config.translator_args).to(device)
        self.translator.train()
        self.discriminator = (build_discriminator(n_layers=config.d_layers, norm=config.d_norm,
                                                  spectral_norm=config.d_spectral_norm).to(device)
                              if config.alpha_d > 0 else None)
        self.selection = BRIDGE_SELECTIONS.create(config.select)
        self.epoch_translators: list[dict] = []  # with save_epochs: each epoch's weights, on the CPU
        means, variances = running_statistics(source.backbone)
        if config.alpha_bn > 0 and not means:
            raise UserError(f"--alpha-bn {config.alpha_bn}: the source model's backbone ({source.backbone_description}) has no "
                            "BatchNorm2d layers whose statistics the translations could match; leave --alpha-bn at 0")
        self.bn_reference = ([m.to(device) for m in means], [v.to(device) for v in variances])
        self.bn_weights = socket_bn_layer_weights(len(means)) if means else []

        self.train_rows, holdout_rows = split_holdout(len(data.ti_rgb), config.holdout_fraction, config.seed)
        self.holdout_rows = holdout_rows
        self.holdout = torch.from_numpy(holdout_rows).to(device)
        self.tr_sample = torch.randperm(len(data.tr_target), generator=generator)[:_TR_MONITOR].sort().values.to(device)
        self.optimizer = torch.optim.Adam(self.translator.parameters(), lr=config.lr, betas=(0.5, 0.999))
        self.d_optimizer = (torch.optim.Adam(self.discriminator.parameters(), lr=config.d_lr, betas=(0.5, 0.999))
                            if self.discriminator is not None else None)
        # a length in steps does not depend on how many TI pairs there are: rounds of --eval-every steps, each
        # drawing its TI batches from fresh permutations; --epochs instead makes each round one pass over them
        if config.epochs:
            self.steps_per_epoch, self.epochs = max(1, math.ceil(len(self.train_rows) / config.batch_size)), config.epochs
        else:
            self.steps_per_epoch = min(config.eval_every, config.steps)
            self.epochs = math.ceil(config.steps / self.steps_per_epoch)
        self.ti_batches: list[torch.Tensor] = []
        self.ti_augmentation: list[tuple[torch.Tensor, ...]] = []
        self.tr_batches: list[torch.Tensor] = []
        self.baseline = self.identity_baseline(self.holdout)

    # ---- what the loop trains -------------------------------------------------------------------------
    def modules(self):
        extra = {"discriminator": self.discriminator} if self.discriminator is not None else {}
        return {"translator": self.translator, **extra}

    def optimizers(self):
        extra = {"discriminator": self.d_optimizer} if self.d_optimizer is not None else {}
        return {"translator": self.optimizer, **extra}

    def start_epoch(self, epoch: int, loop: Trainer) -> None:
        c, steps, n_tr = self.config, self.steps_per_epoch, len(self.data.tr_target)
        if c.epochs:  # one pass over the TI pairs
            ti_batches = [torch.from_numpy(self.train_rows)[b]
                          for b in index_batches(len(self.train_rows), c.batch_size, True, loop.generator)]
        else:
            ti_batches = [torch.from_numpy(self.train_rows)[b] for b in _cycled(len(self.train_rows), steps,
                                                                               c.batch_size, loop.generator)]
        self.ti_batches = to_device_batches(ti_batches, self.device)
        # TR batches cycle through a fresh permutation, as many as there are TI batches
        self.tr_batches = to_device_batches(_cycled(n_tr, steps, c.batch_size, loop.generator), self.device)
        if c.augment:  # drawn after the batches, so that without it the generator's stream is as before
            self.ti_augmentation = draw_epoch_augmentation(loop.generator, [len(b) for b in self.ti_batches],
                                                           self.device)

    def step(self, epoch: int, i: int, loop: Trainer):
        augmentation = tuple(map(loop.shard, self.ti_augmentation[i])) if self.config.augment else None
        return self.train_step(loop.shard(self.ti_batches[i]), loop.shard(self.tr_batches[i]), loop, augmentation)

    def end_epoch(self, epoch: int, loop: Trainer) -> dict:
        if self.config.save_epochs:
            weights = self.translator.state_dict()
            self.epoch_translators.append({k: v.detach().cpu().clone() for k, v in weights.items()})
        return {"step": (epoch + 1) * self.steps_per_epoch, **self.monitor(self.holdout, self.tr_sample),
                **self.baseline}

    def state_dict(self) -> dict:
        """With save_epochs, the rounds' translators so far: a resumed run still writes every one of them."""
        return {"epoch_translators": self.epoch_translators}

    def load_state_dict(self, state: dict) -> None:
        if self.config.save_epochs and "epoch_translators" not in state:  # a state an older xmt wrote
            raise UserError("the saved state does not hold the rounds' translators that --save-epochs writes: "
                            "run it again from the start (--force)")
        self.epoch_translators = state.get("epoch_translators", [])

    # ---- encoding -----------------------------------------------------------------------------
    def target_unit(self, images: NativeImages, indices: torch.Tensor) -> torch.Tensor:
        return self.data.target_recipe.to_unit(images.rows(indices).to(self.device))

    def rgb_unit(self, indices: torch.Tensor) -> torch.Tensor:
        return self.data.ti_rgb.rows(indices).to(self.device).float() / 255.0

    def normalise(self, rgb_unit: torch.Tensor) -> torch.Tensor:
        return self.data.source_recipe.normalise(rgb_unit)

    # ---- one training step --------------------------------------------------------------------
    def train_step(self, ti_idx: torch.Tensor, tr_idx: torch.Tensor, loop: Trainer,
                   augmentation: tuple[torch.Tensor, ...] | None = None) -> tuple[torch.Tensor, dict]:
        """The translator's loss on one TI and one TR batch; the discriminator steps here, outside autocast and
        through its own scaler, between the translations and the translator's adversarial term."""
        c = self.config
        terms: dict[str, torch.Tensor] = {}
        rgb, target = self.rgb_unit(ti_idx), self.target_unit(self.data.ti_target, ti_idx)
        if augmentation is not None:  # the same flip and shift of both images of a pair
            rgb, target = apply_augmentation(rgb, *augmentation), apply_augmentation(target, *augmentation)
        real_ti = self.normalise(rgb)
        with loop.autocast():
            fake_ti = self.normalise(self.translator(target).float())
            loss = c.alpha_rec * reconstruction_mse(fake_ti, real_ti) if c.alpha_rec > 0 else fake_ti.new_zeros(())
            terms["rec"] = reconstruction_mse(fake_ti.detach(), real_ti)
            aux = self.translator.aux_loss()
            loss = loss + aux
            if self.translator.aux_loss_name is not None:
                terms[self.translator.aux_loss_name] = aux.detach()
            need_tr = c.alpha_d > 0 or c.alpha_im > 0 or c.alpha_bn > 0
            if need_tr:
                fake_tr = self.normalise(self.translator(self.target_unit(self.data.tr_target, tr_idx)).float())
                loss = loss + self.translator.aux_loss()
        if c.alpha_d > 0:
            d_loss = gan_discriminator_loss(self.discriminator(real_ti), self.discriminator(fake_tr.detach().float()),
                                            c.gan_loss)
            terms["d"] = d_loss.detach()
            loop.backward_step(d_loss, "discriminator")
        with loop.autocast():
            if c.alpha_d > 0:
                g_adv = gan_generator_loss(self.discriminator(fake_tr), c.gan_loss)
                terms["g_adv"] = g_adv.detach()
                loss = loss + c.alpha_d * g_adv
            if c.alpha_im > 0 or c.alpha_bn > 0:
                with record_batchnorm_inputs(self.source.backbone) as bn:
                    logits, _ = self.source(fake_tr)
                if c.alpha_im > 0:
                    im = information_maximization(logits.float())
                    terms["im"] = im.detach()
                    loss = loss + c.alpha_im * im
                if c.alpha_bn > 0:
                    bn_loss = batchnorm_statistics_loss(bn.means, bn.vars, *self.bn_reference, self.bn_weights)
                    terms["bn"] = bn_loss.detach()
                    loss = loss + c.alpha_bn * bn_loss
            if c.alpha_feat > 0 or c.alpha_perc > 0 or c.alpha_kl > 0:
                loss = loss + self.source_guidance(fake_ti, real_ti, terms)
        return loss, terms

    def source_guidance(self, fake_ti: torch.Tensor, real_ti: torch.Tensor, terms: dict) -> torch.Tensor:
        """L_feat, L_perc and L_kl: what the frozen source model sees in a TI translation against its paired RGB.
        The RGB side is a fixed target, so it is read without gradients."""
        c = self.config
        with torch.no_grad(), record_feature_maps(self.source.backbone, PERCEPTUAL_LAYERS) as real_maps:
            real_logits, real_features = self.source(real_ti)
        with record_feature_maps(self.source.backbone, PERCEPTUAL_LAYERS) as fake_maps:
            fake_logits, fake_features = self.source(fake_ti)
        loss = fake_ti.new_zeros(())
        if c.alpha_feat > 0:
            terms["feat"] = feature_alignment(fake_features.float(), real_features.float(), reduction="mean")
            loss = loss + c.alpha_feat * terms["feat"]
        if c.alpha_perc > 0:
            terms["perc"] = perceptual_distance(fake_maps, real_maps)
            loss = loss + c.alpha_perc * terms["perc"]
        if c.alpha_kl > 0:
            terms["kl"] = kl_distillation(torch.softmax(real_logits.float(), 1), fake_logits.float())
            loss = loss + c.alpha_kl * terms["kl"]
        for name in ("feat", "perc", "kl"):
            if name in terms:
                terms[name] = terms[name].detach()
        return loss

    # ---- label-free monitoring ----------------------------------------------------------------
    @torch.no_grad()
    def translate_unit(self, images: NativeImages, indices: torch.Tensor) -> torch.Tensor:
        """Translations in [0, 1] (eval mode), batched."""
        was_training = self.translator.training
        self.translator.eval()
        out = [self.translator(self.target_unit(images, chunk)).float()
               for chunk in indices.split(_EVAL_BATCH)]
        self.translator.train(was_training)
        return torch.cat(out) if out else torch.empty(0, 3, 1, 1, device=self.device)

    @torch.no_grad()
    def source_outputs(self, rgb_unit: torch.Tensor,
                       with_maps: bool = True) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The source model's probabilities on images in [0, 1], and (with_maps) its PERCEPTUAL_LAYERS maps."""
        probs, maps = [], []
        for chunk in rgb_unit.split(_EVAL_BATCH):
            with record_feature_maps(self.source.backbone, PERCEPTUAL_LAYERS if with_maps else 0) as chunk_maps:
                logits, _ = self.source(self.normalise(chunk))
            probs.append(torch.softmax(logits.float(), 1))
            maps.append([m.float() for m in chunk_maps])
        return torch.cat(probs), [torch.cat(layer) for layer in zip(*maps)]

    @torch.no_grad()
    def monitor(self, holdout: torch.Tensor, tr_sample: torch.Tensor) -> dict:
        record: dict = {}
        if len(holdout):
            fake = self.translate_unit(self.data.ti_target, holdout)
            real = self.rgb_unit(holdout)
            mse01 = torch.mean((fake - real) ** 2).item()
            record["val_rec"] = reconstruction_mse(self.normalise(fake), self.normalise(real)).item()
            record["val_psnr"] = psnr(mse01)
            (fake_probs, fake_maps), (real_probs, real_maps) = self.source_outputs(fake), self.source_outputs(real)
            record.update(self.source_readings_kept(fake_probs, real_probs))
            record["val_kl"] = kl_distillation(real_probs, fake_probs.clamp_min(1e-12).log()).item()
            record["val_perc"] = perceptual_distance(fake_maps, real_maps).item() if fake_maps else 0.0
        probs = self.source_outputs(self.translate_unit(self.data.tr_target, tr_sample), with_maps=False)[0]
        record["tr_mean_entropy"] = mean_entropy(probs).item()
        record["tr_marginal_entropy"] = marginal_entropy(probs).item()
        record.update({f"t_{k}": v for k, v in self.translator.stats().items()})
        return record

    def source_readings_kept(self, fake_probs: torch.Tensor, real_probs: torch.Tensor) -> dict:
        """How often the source model reads a held-out translation as it reads the real RGB, raw and corrected
        for chance (Cohen's kappa): label-free, and what the teacher's accuracy on TR rests on."""
        fake, real = fake_probs.argmax(1).cpu().numpy(), real_probs.argmax(1).cpu().numpy()
        return {"val_source_agreement": float((fake == real).mean()),
                "val_source_kappa": cohen_kappa(fake, real, fake_probs.shape[1])}

    @torch.no_grad()
    def holdout_check(self) -> dict:
        """The translator as it stands on every held-out TI pair (what `transfer --guard-with` reads)."""
        if not len(self.holdout):
            return {}
        fake_probs = self.source_outputs(self.translate_unit(self.data.ti_target, self.holdout), with_maps=False)[0]
        real_probs = self.source_outputs(self.rgb_unit(self.holdout), with_maps=False)[0]
        kept = self.source_readings_kept(fake_probs, real_probs)
        return {"pairs": len(self.holdout), "source_agreement": kept["val_source_agreement"],
                "source_kappa": kept["val_source_kappa"]}

    @torch.no_grad()
    def identity_baseline(self, holdout: torch.Tensor) -> dict:
        """L_rec and PSNR of simply replicating the target image to 3 channels: what T must beat."""
        if not len(holdout):
            return {}
        replicate = self.target_unit(self.data.ti_target, holdout).expand(-1, 3, -1, -1)
        real = self.rgb_unit(holdout)
        return {"identity_val_rec": reconstruction_mse(self.normalise(replicate), self.normalise(real)).item(),
                "identity_val_psnr": psnr(torch.mean((replicate - real) ** 2).item())}


def train_bridge(source: Classifier, data: BridgeData, config: BridgeConfig, device: torch.device,
                 run_state: RunState | None = None) -> BridgeResult:
    """Train the translator on `data` with a `config` that has passed `config.check(size)` and
    `config.check_discriminator_fits(size)` (run_bridge checks it once, before loading any data)."""
    trainer = Trainer(device, config.precision, seed=config.seed, log_name="bridge", run_state=run_state)
    data = BridgeData(data.ti_rgb.to(device), data.ti_target.to(device), data.tr_target.to(device),
                      data.source_recipe, data.target_recipe)
    bridge = Bridge(source, data, config, device, trainer.generator)
    fitted = trainer.fit(bridge)
    bridge.translator.eval()
    return BridgeResult(bridge.translator, asdict(config), fitted.log, bridge.holdout_rows, bridge.holdout_check(),
                        bridge.epoch_translators)
