"""A small VQGAN-style translator (`--translator vq`): encoder, codebook, decoder."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from xmt.models.translators.base import TRANSLATORS, Translator, conv_norm_act, init_pix2pix_weights, level_widths


# k-means sees at most this many encoder outputs per code: enough for stable centroids, bounded memory.
_KMEANS_POINTS_PER_CODE = 64


def _squared_distances(points: Tensor, codes: Tensor) -> Tensor:
    """(P, D) x (K, D) -> (P, K) squared Euclidean distances."""
    return points.pow(2).sum(1, keepdim=True) - 2 * points @ codes.T + codes.pow(2).sum(1)


def _kmeans(points: Tensor, k: int, iterations: int) -> Tensor:
    """Lloyd's algorithm from k random points (drawn with replacement when there are fewer than k)."""
    n = points.shape[0]
    if n >= k:
        start = torch.randperm(n, device=points.device)[:k]
    else:
        start = torch.randint(n, (k,), device=points.device)
    centroids = points[start]
    for _ in range(iterations):
        assignment = _squared_distances(points, centroids).argmin(1)
        counts = torch.bincount(assignment, minlength=k)
        sums = torch.zeros_like(centroids).index_add_(0, assignment, points)
        # An empty cluster keeps its centroid; dead-code restart revives it if it stays unused.
        centroids = torch.where((counts > 0)[:, None], sums / counts.clamp(min=1)[:, None], centroids)
    return centroids


def _distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


class VectorQuantizer(nn.Module):
    """Nearest-code quantisation with a straight-through gradient, k-means init and dead-code restart.

    In training mode only: the first forward initialises the codebook by k-means on the encoder outputs
    (once; the ``initialised`` buffer survives a state_dict round trip), and a code unused for
    ``restart_after`` consecutive training forwards is reset, at the next one, to a random encoder output.
    Under torch.distributed, usage counts are summed over ranks and rank 0's codebook is broadcast
    after every change, so all replicas keep the same codebook.
    """

    def __init__(
        self, codebook_size: int, embed_dim: int, beta: float, restart_after: int, kmeans_iterations: int
    ):
        super().__init__()
        self.beta, self.restart_after, self.kmeans_iterations = beta, restart_after, kmeans_iterations
        bound = 1 / codebook_size  # VQ-VAE's initial range; k-means replaces it at the first training step
        self.codebook = nn.Parameter(torch.empty(codebook_size, embed_dim).uniform_(-bound, bound))
        self.register_buffer("initialised", torch.tensor(False))
        self.register_buffer("steps_unused", torch.zeros(codebook_size, dtype=torch.long))
        self.register_buffer("restarts_total", torch.zeros((), dtype=torch.long))
        self.loss: Tensor | None = None  # set by every forward
        self.last_stats: dict[str, Tensor | float] = {}

    def forward(self, z: Tensor) -> Tensor:
        # Nearest-code search and k-means in float32 even under autocast: bf16 distances pick wrong codes.
        with torch.autocast(z.device.type, enabled=False):
            return self._quantize(z)

    def _quantize(self, z: Tensor) -> Tensor:
        n, d, h, w = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, d).float()
        restarted = 0
        if self.training:
            with torch.no_grad():
                if not self.initialised:
                    self._kmeans_init(flat)
                restarted = self._restart_dead_codes(flat)
        with torch.no_grad():
            indices = _squared_distances(flat, self.codebook).argmin(1)
        quantized = nn.functional.embedding(indices, self.codebook)
        # Codebook term pulls codes to encoder outputs; the beta-weighted commitment term the reverse.
        self.loss = nn.functional.mse_loss(quantized, flat.detach()) + self.beta * nn.functional.mse_loss(
            flat, quantized.detach()
        )
        counts = torch.bincount(indices, minlength=self.codebook.shape[0])
        if self.training:
            counts = self._update_usage(counts)
        self._record_stats(counts, restarted)
        straight_through = flat + (quantized - flat).detach()
        return straight_through.reshape(n, h, w, d).permute(0, 3, 1, 2).to(z.dtype)

    def _kmeans_init(self, flat: Tensor) -> None:
        k = self.codebook.shape[0]
        sample = flat[torch.randperm(flat.shape[0], device=flat.device)[: _KMEANS_POINTS_PER_CODE * k]]
        self.codebook.data.copy_(_kmeans(sample, k, self.kmeans_iterations))
        self.initialised.fill_(True)
        self.steps_unused.zero_()
        self._sync_codebook()

    def _restart_dead_codes(self, flat: Tensor) -> int:
        dead = self.steps_unused >= self.restart_after
        n_dead = int(dead.sum())
        if n_dead:
            self.codebook.data[dead] = flat[torch.randint(flat.shape[0], (n_dead,), device=flat.device)]
            self.steps_unused[dead] = 0
            self.restarts_total += n_dead
            self._sync_codebook()
        return n_dead

    def _update_usage(self, counts: Tensor) -> Tensor:
        if _distributed():
            torch.distributed.all_reduce(counts)
        self.steps_unused.copy_(torch.where(counts > 0, 0, self.steps_unused + 1))
        return counts

    def _sync_codebook(self) -> None:
        if _distributed():
            torch.distributed.broadcast(self.codebook.data, src=0)

    def _record_stats(self, counts: Tensor, restarted: int) -> None:
        probabilities = counts.float() / counts.sum()
        entropy = -(probabilities * probabilities.clamp(min=1e-10).log()).sum()
        self.last_stats = {
            "codebook_usage": (counts > 0).float().mean(),
            "perplexity": entropy.exp(),
            "codes_restarted": float(restarted),
        }

    def stats(self) -> dict[str, float]:
        figures = {name: float(value) for name, value in self.last_stats.items()}
        return figures | {"codes_restarted_total": float(self.restarts_total)}


def _group_norm(channels: int) -> nn.GroupNorm:
    # VQGAN's 32 groups, fewer when the width is not a multiple of 32.
    return nn.GroupNorm(math.gcd(32, channels), channels)


class _ResBlock(nn.Module):
    """Pre-activation residual block (GroupNorm, SiLU, 3x3 conv, twice), as in VQGAN."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            _group_norm(channels), nn.SiLU(), nn.Conv2d(channels, channels, 3, padding=1),
            _group_norm(channels), nn.SiLU(), nn.Conv2d(channels, channels, 3, padding=1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


@TRANSLATORS.register("vq")
class VQTranslator(Translator):
    """Small VQGAN-style translator: conv encoder, codebook, conv decoder.

    The encoder downsamples by ``downsample`` (a power of two; 64x64 -> 16x16 latents by default) with
    widths doubling per level as in the U-Net (32, 64, 128 by default).
    aux_loss() is the codebook + commitment loss of the last forward; add it after every forward.
    """

    name = "vq"
    summary = "VQ-GAN-style"
    aux_loss_name = "vq"  # the codebook and commitment loss

    def __init__(
        self,
        in_channels: int = 1,
        base_channels: int = 32,
        embed_dim: int = 64,
        codebook_size: int = 256,
        downsample: int = 4,
        beta: float = 0.25,
        restart_after: int = 20,
        kmeans_iterations: int = 10,
    ):
        super().__init__()
        if downsample < 2 or downsample & (downsample - 1):
            raise ValueError(f"vq downsample must be a power of two >= 2, got {downsample}")
        self._config = {
            "in_channels": in_channels, "base_channels": base_channels, "embed_dim": embed_dim,
            "codebook_size": codebook_size, "downsample": downsample, "beta": beta,
            "restart_after": restart_after, "kmeans_iterations": kmeans_iterations,
        }
        self.size_multiple = downsample
        levels = downsample.bit_length() - 1
        widths = level_widths(base_channels, levels)
        silu = nn.SiLU

        self.encoder = nn.Sequential(
            conv_norm_act(in_channels, widths[0], _group_norm, silu()),
            *(conv_norm_act(widths[i], widths[i + 1], _group_norm, silu(), stride=2) for i in range(levels)),
            _ResBlock(widths[-1]),
            _group_norm(widths[-1]), silu(),
            nn.Conv2d(widths[-1], embed_dim, kernel_size=1),
        )
        self.quantizer = VectorQuantizer(codebook_size, embed_dim, beta, restart_after, kmeans_iterations)
        self.decoder = nn.Sequential(
            nn.Conv2d(embed_dim, widths[-1], kernel_size=3, padding=1),
            _ResBlock(widths[-1]),
            _group_norm(widths[-1]), silu(),
            *(
                nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                              conv_norm_act(widths[i + 1], widths[i], _group_norm, silu()))
                for i in reversed(range(levels))
            ),
            nn.Conv2d(widths[0], 3, kernel_size=3, padding=1),
            nn.Sigmoid(),
        )
        init_pix2pix_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        return self.decoder(self.quantizer(self.encoder(x)))

    def aux_loss(self) -> Tensor:
        return super().aux_loss() if self.quantizer.loss is None else self.quantizer.loss

    def stats(self) -> dict[str, float]:
        return self.quantizer.stats()
