"""xmt bridge (TGMB): train a translator from the target modality to source-like RGB; translate every TR image."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from xmt.cli import options as O
from xmt.cli.common import (ConfigOption, DepthFarOption, DepthNearOption, DepthScaleOption, DeviceOption,
                            ForceOption, JsonOption, PrecisionOption, QuietOption, ResumeOption, RootOption,
                            SeedOption, WorkersOption, emit, options_of, parse_key_values, setup)
from xmt.methods.tgmb import BridgeConfig
from xmt.stages.bridge import run_bridge

D = BridgeConfig()


def command(
    source_model: Annotated[Path, typer.Option("--source-model", help="The frozen RGB source model (.safetensors).")],
    ti: Annotated[Path, typer.Option("--ti", help="Paired TI pack from xmt prepare-ti (rgb + the target modality).")],
    target_data: Annotated[Path, typer.Option("--target-data", help="Unlabelled TR target images: a folder, list "
                                              "file or pack (labels, if any, are never read for training).")],
    target: Annotated[str, typer.Option("--target", help="Target modality: depth, nir or thermal.")] = "depth",
    root: RootOption = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder: translator.safetensors, translated.h5, "
                                      "preview.png, bridge.jsonl.")] = Path("bridge"),
    translator: Annotated[str, typer.Option(help="light (the paper's: 1x1 lift, BN, conv), unet (pix2pix-style) "
                                            "or vq (VQ-GAN-style).")] = D.translator,
    translator_arg: Annotated[Optional[list[str]], typer.Option(
        help="Translator constructor argument KEY=VALUE, repeatable (e.g. base_channels=64).")] = None,
    epochs: Annotated[int, typer.Option(parser=O.COUNT)] = D.epochs,
    batch_size: Annotated[int, typer.Option(parser=O.COUNT)] = D.batch_size,
    lr: Annotated[float, typer.Option(parser=O.POSITIVE, help="Adam learning rate of the translator.")] = D.lr,
    d_lr: Annotated[float, typer.Option(parser=O.POSITIVE, help="Adam learning rate of the discriminator.")] = D.d_lr,
    alpha_rec: Annotated[float, typer.Option(parser=O.NON_NEGATIVE, help="Weight of L_rec, MSE to the paired TI RGB (paper Eq. 1).")] = D.alpha_rec,
    alpha_d: Annotated[float, typer.Option(parser=O.NON_NEGATIVE, help="Weight of the adversarial loss (0: no discriminator).")] = D.alpha_d,
    alpha_im: Annotated[float, typer.Option(parser=O.NON_NEGATIVE, help="Weight of the source model's information maximisation on "
                                            "translated TR images.")] = D.alpha_im,
    alpha_bn: Annotated[float, typer.Option(parser=O.NON_NEGATIVE, help="Weight of BatchNorm-statistics matching inside the source model "
                                            "(ours; 0 = off).")] = D.alpha_bn,
    alpha_feat: Annotated[float, typer.Option(parser=O.NON_NEGATIVE, help="Weight of the source-feature distance on TI pairs "
                                              "(ours; 0 = off).")] = D.alpha_feat,
    gan_loss: Annotated[str, typer.Option(help="nonsaturating, hinge or lsgan.")] = D.gan_loss,
    holdout_fraction: Annotated[float, typer.Option(parser=O.Bounded(0.0, 0.5), help="TI pairs held out to monitor L_rec, "
                                                    "PSNR and the preview.")] = D.holdout_fraction,
    depth_near: DepthNearOption = 0.0,
    depth_far: DepthFarOption = 10.0,
    depth_scale: DepthScaleOption = None,
    seed: SeedOption = D.seed,
    device: DeviceOption = "auto",
    precision: PrecisionOption = D.precision,
    workers: WorkersOption = 0,
    force: ForceOption = False,
    resume: ResumeOption = False,
    stream: Annotated[bool, typer.Option("--stream", help="Read TI and TR images a batch at a time instead of into "
                                         "memory: for data larger than memory (packs read fastest).")] = False,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    config: ConfigOption = None,
) -> None:
    """TGMB: learn a translator target -> source-like RGB guided by the frozen source model, then translate every TR image."""
    options = options_of(locals())
    O.check_depth_range(depth_near, depth_far)
    torch_device = setup(quiet, device)
    settings = BridgeConfig(translator=translator, translator_args=parse_key_values(translator_arg or [], "--translator-arg"),
                            epochs=epochs, batch_size=batch_size, lr=lr, d_lr=d_lr, alpha_rec=alpha_rec,
                            alpha_d=alpha_d, alpha_im=alpha_im, alpha_bn=alpha_bn, alpha_feat=alpha_feat,
                            gan_loss=gan_loss, holdout_fraction=holdout_fraction, seed=seed, precision=precision)
    outputs = run_bridge(source_model=source_model, ti=ti, target_data=target_data, target=target, out=out,
                         config=settings, device=torch_device, depth_range_m=(depth_near, depth_far),
                         depth_scale_mm=depth_scale, workers=workers, force=force, cli_options=options, root=root,
                         resume=resume, stream=stream)
    emit({"folder": str(outputs.folder), "translator": str(outputs.translator), "translated": str(outputs.translated),
          "preview": str(outputs.preview), "log": str(outputs.log), "final": outputs.final}
         if json_output else str(outputs.folder), json_output)
