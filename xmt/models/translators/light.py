"""The paper's translator (`--translator light`)."""

from __future__ import annotations

from torch import Tensor, nn

from xmt.models.translators.base import TRANSLATORS, Translator, init_pix2pix_weights


@TRANSLATORS.register("light")
class LightTranslator(Translator):
    """The paper's translator, "an FC layer, a BN layer and a Conv layer".

    Read as a per-pixel 1x1 conv lift to ``hidden`` channels, BatchNorm, ReLU, then a 3x3 conv to RGB.
    """

    name = "light"
    summary = "the paper's: 1x1 lift, BN, conv"

    def __init__(self, in_channels: int = 1, hidden: int = 16):
        super().__init__()
        self._config = {"in_channels": in_channels, "hidden": hidden}
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
