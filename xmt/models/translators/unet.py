"""A pix2pix-style U-Net translator (`--translator unet`)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from xmt.models.translators.base import TRANSLATORS, Translator, conv_norm_act, init_pix2pix_weights, level_widths


class _UNetUp(nn.Module):
    """Upsample x2 and conv to halve the width, concatenate the skip, conv again."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        # Bilinear upsampling + conv instead of a transposed conv avoids checkerboard artefacts.
        self.up = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
            conv_norm_act(in_channels, out_channels, nn.BatchNorm2d, nn.ReLU(inplace=True)),
        )
        self.fuse = conv_norm_act(2 * out_channels, out_channels, nn.BatchNorm2d, nn.ReLU(inplace=True))

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        return self.fuse(torch.cat([self.up(x), skip], dim=1))


@TRANSLATORS.register("unet")
class UNetTranslator(Translator):
    """pix2pix-style U-Net: ``depth`` stride-2 levels, widths base * 2**level capped at 8 * base."""

    name = "unet"
    summary = "pix2pix-style"

    def __init__(self, in_channels: int = 1, base_channels: int = 16, depth: int = 4):
        super().__init__()
        if depth < 1:
            raise ValueError(f"unet depth must be at least 1, got {depth}")
        self._config = {"in_channels": in_channels, "base_channels": base_channels, "depth": depth}
        self.size_multiple = 2**depth
        widths = level_widths(base_channels, depth)

        def leaky() -> nn.Module:
            return nn.LeakyReLU(0.2, inplace=True)

        self.stem = conv_norm_act(in_channels, widths[0], nn.BatchNorm2d, leaky())
        self.downs = nn.ModuleList(
            nn.Sequential(conv_norm_act(widths[i], widths[i + 1], nn.BatchNorm2d, leaky(), stride=2),
                          conv_norm_act(widths[i + 1], widths[i + 1], nn.BatchNorm2d, leaky()))
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
