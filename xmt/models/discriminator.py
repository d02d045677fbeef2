"""PatchGAN discriminator: one real/fake logit per overlapping image patch (pix2pix's NLayerDiscriminator)."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as apply_spectral_norm

from xmt.models.translators import init_pix2pix_weights

NORMS = ("instance", "batch", "none")


def _norm_layer(norm: str, channels: int) -> list[nn.Module]:
    if norm == "instance":
        return [nn.InstanceNorm2d(channels)]  # no affine, no running stats: pix2pix's choice
    if norm == "batch":
        return [nn.BatchNorm2d(channels)]
    return []


class PatchDiscriminator(nn.Module):
    """4x4 convs: ``n_layers`` stride-2 ones, then two stride-1 ones down to one logit channel.

    Input (N, in_channels, H, W) normalised RGB; output (N, 1, H / 2**n_layers - 2, W / 2**n_layers - 2)
    raw logits. With n_layers=3 each logit sees a 70x70 patch (pix2pix); a 64x64 input gives 6x6 logits,
    so H and W must be at least 3 * 2**n_layers. The first layer has no norm, as in pix2pix.
    """

    def __init__(
        self,
        in_channels: int = 3,
        base_channels: int = 32,
        n_layers: int = 3,
        norm: str = "instance",
        spectral_norm: bool = False,
    ):
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"unknown discriminator norm {norm!r}; known: {', '.join(NORMS)}")
        if n_layers < 1:
            raise ValueError(f"discriminator n_layers must be at least 1, got {n_layers}")
        self._config = {
            "in_channels": in_channels, "base_channels": base_channels, "n_layers": n_layers,
            "norm": norm, "spectral_norm": spectral_norm,
        }
        widths = [in_channels] + [base_channels * min(2**i, 8) for i in range(n_layers + 1)]
        layers: list[nn.Module] = [
            nn.Conv2d(widths[0], widths[1], 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, True),
        ]
        for i in range(1, n_layers + 1):
            stride = 2 if i < n_layers else 1
            # A norm that subtracts the channel mean cancels a conv bias, so only the norm-free variant has one.
            layers += [
                nn.Conv2d(widths[i], widths[i + 1], 4, stride=stride, padding=1, bias=norm == "none"),
                *_norm_layer(norm, widths[i + 1]),
                nn.LeakyReLU(0.2, True),
            ]
        layers.append(nn.Conv2d(widths[-1], 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)
        init_pix2pix_weights(self)
        if spectral_norm:
            for layer in self.model:
                if isinstance(layer, nn.Conv2d):
                    apply_spectral_norm(layer)

    def forward(self, x: Tensor) -> Tensor:
        min_size = min_input_size(self._config["n_layers"])
        if min(x.shape[-2:]) < min_size:
            raise ValueError(
                f"discriminator needs H and W of at least {min_size}, got {x.shape[-2]}x{x.shape[-1]}"
            )
        return self.model(x)

    def config(self) -> dict[str, Any]:
        """JSON-serialisable constructor arguments: build_discriminator(**d.config()) rebuilds it."""
        return dict(self._config)


def min_input_size(n_layers: int) -> int:
    """The smallest H and W that leave a logit after the last conv of a discriminator with `n_layers`."""
    return 3 * 2 ** n_layers


def build_discriminator(**kwargs: Any) -> PatchDiscriminator:
    """Create a PatchDiscriminator from its config() (the single architecture needs no registry name)."""
    return PatchDiscriminator(**kwargs)
