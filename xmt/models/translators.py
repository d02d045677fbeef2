"""Translators: a single-channel target-modality image in, a source-like RGB image in [0, 1] out.

Every translator is rebuilt from JSON metadata with ``build_translator(t.name, **t.config())``;
its weights then load strictly from the state_dict.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn


def init_pix2pix_weights(module: nn.Module) -> None:
    """pix2pix initialisation: conv weights ~ N(0, 0.02), batch-norm scales ~ N(1, 0.02), biases 0."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(layer.weight, 0.0, 0.02)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.normal_(layer.weight, 1.0, 0.02)
            nn.init.zeros_(layer.bias)


class Translator(nn.Module):
    """Base class: maps (N, in_channels, H, W) value-scaled target images to (N, 3, H, W) RGB in [0, 1]."""

    name: ClassVar[str]
    # H and W must be multiples of this (the total downsampling factor).
    size_multiple: int = 1

    def aux_loss(self) -> Tensor:
        """Extra training loss from the last forward; zero for translators without one."""
        return next(self.parameters()).new_zeros(())

    def stats(self) -> dict[str, float]:
        """Figures worth logging after a forward; none by default."""
        return {}

    def config(self) -> dict[str, Any]:
        """JSON-serialisable constructor arguments that rebuild this translator."""
        raise NotImplementedError

    def _check_input(self, x: Tensor) -> None:
        if x.dim() != 4:
            raise ValueError(f"{self.name} translator expects (N, C, H, W) input, got shape {tuple(x.shape)}")
        height, width = x.shape[-2:]
        if height % self.size_multiple or width % self.size_multiple:
            raise ValueError(
                f"{self.name} translator needs H and W divisible by {self.size_multiple}, got {height}x{width}"
            )


class LightTranslator(Translator):
    """The paper's translator, "an FC layer, a BN layer and a Conv layer".

    Read as a per-pixel 1x1 conv lift to ``hidden`` channels, BatchNorm, ReLU, then a 3x3 conv to RGB.
    """

    name = "light"

    def __init__(self, in_channels: int = 1, hidden: int = 16):
        super().__init__()
        self.in_channels, self.hidden = in_channels, hidden
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, hidden, kernel_size=1, bias=False),  # BN's shift makes a bias redundant
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, 3, kernel_size=3, padding=1),
            nn.Sigmoid(),
        )
        init_pix2pix_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        return self.net(x)

    def config(self) -> dict[str, Any]:
        return {"in_channels": self.in_channels, "hidden": self.hidden}


def _conv_bn_act(in_channels: int, out_channels: int, activation: nn.Module, stride: int = 1) -> nn.Sequential:
    """3x3 conv (or 4x4 stride-2 conv when downsampling, as pix2pix), BatchNorm, activation."""
    kernel_size = 4 if stride == 2 else 3
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        activation,
    )


class _UNetUp(nn.Module):
    """Upsample x2 and conv to halve the width, concatenate the skip, conv again."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        # Bilinear upsampling + conv instead of a transposed conv avoids checkerboard artefacts.
        self.up = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
            _conv_bn_act(in_channels, out_channels, nn.ReLU(inplace=True)),
        )
        self.fuse = _conv_bn_act(2 * out_channels, out_channels, nn.ReLU(inplace=True))

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        return self.fuse(torch.cat([self.up(x), skip], dim=1))


class UNetTranslator(Translator):
    """pix2pix-style U-Net: ``depth`` stride-2 levels, widths base * 2**level capped at 8 * base."""

    name = "unet"

    def __init__(self, in_channels: int = 1, base_channels: int = 32, depth: int = 3):
        super().__init__()
        if depth < 1:
            raise ValueError(f"unet depth must be at least 1, got {depth}")
        self.in_channels, self.base_channels, self.depth = in_channels, base_channels, depth
        self.size_multiple = 2**depth
        widths = [base_channels * 2 ** min(level, 3) for level in range(depth + 1)]

        def leaky() -> nn.Module:
            return nn.LeakyReLU(0.2, inplace=True)

        self.stem = _conv_bn_act(in_channels, widths[0], leaky())
        self.downs = nn.ModuleList(
            nn.Sequential(_conv_bn_act(widths[i], widths[i + 1], leaky(), stride=2),
                          _conv_bn_act(widths[i + 1], widths[i + 1], leaky()))
            for i in range(depth)
        )
        self.ups = nn.ModuleList(_UNetUp(widths[i + 1], widths[i]) for i in reversed(range(depth)))
        self.head = nn.Sequential(nn.Conv2d(widths[0], 3, kernel_size=1), nn.Sigmoid())
        init_pix2pix_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        skips = [self.stem(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        h = skips.pop()
        for up in self.ups:
            h = up(h, skips.pop())
        return self.head(h)

    def config(self) -> dict[str, Any]:
        return {"in_channels": self.in_channels, "base_channels": self.base_channels, "depth": self.depth}
