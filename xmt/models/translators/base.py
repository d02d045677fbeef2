"""What every translator is (`Translator`), their registry and the layers several of them share."""

from __future__ import annotations

from typing import Any, Callable, ClassVar

from torch import Tensor, nn

from xmt.registry import Registry


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
    summary: ClassVar[str] = ""  # a few words for --translator's help
    # the bridge log's name for aux_loss(), which the bridge adds to the translator's loss; None: none to log
    aux_loss_name: ClassVar[str | None] = None
    # H and W must be multiples of this (the total downsampling factor).
    size_multiple: int = 1
    # Constructor arguments, recorded by each subclass for config().
    _config: dict[str, Any]

    def aux_loss(self) -> Tensor:
        """Extra training loss from the last forward; zero for translators without one."""
        return next(self.parameters()).new_zeros(())

    def stats(self) -> dict[str, float]:
        """Figures worth logging after a forward; none by default."""
        return {}

    def config(self) -> dict[str, Any]:
        """JSON-serialisable constructor arguments that rebuild this translator."""
        return dict(self._config)

    def _check_input(self, x: Tensor) -> None:
        if x.dim() != 4:
            raise ValueError(f"{self.name} translator expects (N, C, H, W) input, got shape {tuple(x.shape)}")
        height, width = x.shape[-2:]
        if height % self.size_multiple or width % self.size_multiple:
            raise ValueError(
                f"{self.name} translator needs H and W divisible by {self.size_multiple}, got {height}x{width}"
            )


# Each translator registers under its `name`, which its checkpoints record to rebuild it.
TRANSLATORS: Registry[type[Translator]] = Registry("translator")


def conv_norm_act(
    in_channels: int, out_channels: int, norm: Callable[[int], nn.Module], activation: nn.Module, stride: int = 1
) -> nn.Sequential:
    """3x3 conv (or 4x4 stride-2 conv when downsampling, as pix2pix), norm, activation."""
    kernel_size = 4 if stride == 2 else 3
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=1, bias=False),
        norm(out_channels),
        activation,
    )


def level_widths(base_channels: int, levels: int) -> list[int]:
    """Channels at each resolution level: doubling per level, capped at 8x as in pix2pix."""
    return [base_channels * 2 ** min(level, 3) for level in range(levels + 1)]


def translators_help() -> str:
    """Every registered translator, with its summary: --translator's help."""
    return ", ".join(f"{name} ({cls.summary})" if cls.summary else name for name, cls in TRANSLATORS.items())


def build_translator(name: str, **kwargs: Any) -> Translator:
    """Create a translator by registry name; kwargs are its constructor arguments (see its config())."""
    return TRANSLATORS.create(name, **kwargs)
