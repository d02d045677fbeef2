"""Every training loss of xmt as a small pure function of tensors.

The functions hold no state, work in any floating dtype and on any device, and return a scalar
tensor that is differentiable with respect to every input that requires grad. Each docstring gives
the formula and where it comes from: SHOT (Liang et al., ICML 2020), SOCKET (Ahmed et al.,
ECCV 2022), the paper (Zhu et al., arXiv 2401.05014) or our own design (docs/methods.md marks
which is which).

Conventions: logits and probabilities are (N, K) with classes on the last dimension; a "batch mean"
is over the N samples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

GanKind = Literal["nonsaturating", "hinge", "lsgan"]
GAN_KINDS: tuple[str, ...] = ("nonsaturating", "hinge", "lsgan")

# SHOT adds this inside the log of every entropy so that log(0) never occurs.
SHOT_ENTROPY_EPS = 1e-5


def _check_same_shape(a: Tensor, b: Tensor, a_name: str, b_name: str) -> None:
    # Broadcasting two mismatched batches silently computes the wrong loss; fail loudly instead.
    if a.shape != b.shape:
        raise ValueError(f"{a_name} has shape {tuple(a.shape)} but {b_name} has shape {tuple(b.shape)}")


# --- classification -------------------------------------------------------------------------------


def label_smoothed_cross_entropy(logits: Tensor, targets: Tensor, epsilon: float = 0.1) -> Tensor:
    """SHOT's source-training loss: cross-entropy against smoothed targets, batch mean.

    ``mean_j -sum_k q_jk log softmax(logits_j)_k`` with ``q_j = (1 - epsilon) * onehot(y_j) + epsilon / K``.
    """
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must lie in [0, 1], got {epsilon}")
    # PyTorch's label_smoothing uses exactly SHOT's smoothed targets (1 - eps) * onehot + eps / K.
    return F.cross_entropy(logits, targets, label_smoothing=epsilon)


def pseudo_label_cross_entropy(logits: Tensor, pseudo_labels: Tensor, ignore_index: int = -1) -> Tensor:
    """Cross-entropy with pseudo-labels (SHOT / SOCKET L_PL, the paper's L_self), filtered samples skipped.

    ``sum_{j: y_j != ignore} -log softmax(logits_j)_{y_j} / #{j: y_j != ignore}``; 0 (still a graph node,
    so ``backward`` works) when every label is ``ignore_index``.
    """
    per_sample = F.cross_entropy(logits, pseudo_labels, ignore_index=ignore_index, reduction="none")
    # Dividing by a clamped count instead of branching on it keeps the function free of host syncs.
    n_kept = (pseudo_labels != ignore_index).sum().clamp(min=1)
    return per_sample.sum() / n_kept


# --- information maximisation (SHOT) -------------------------------------------------------------------


def entropy(probs: Tensor, eps: float = SHOT_ENTROPY_EPS) -> Tensor:
    """Per-sample entropy ``H(p_j) = -sum_k p_jk log(p_jk + eps)``, shape (N,) (SHOT's ``Entropy``).

    ``eps`` follows SHOT (1e-5) and keeps the gradient finite at p = 0; eps = 0 is the exact entropy
    (with 0 log 0 = 0).
    """
    return -torch.where(probs > 0, probs * torch.log(probs + eps), 0.0).sum(dim=-1)


def mean_entropy(probs: Tensor, eps: float = SHOT_ENTROPY_EPS) -> Tensor:
    """Batch mean of the per-sample entropies, ``mean_j H(p_j)``: low when each prediction is confident (SHOT)."""
    return entropy(probs, eps).mean()


def marginal_entropy(probs: Tensor, eps: float = SHOT_ENTROPY_EPS) -> Tensor:
    """Entropy of the batch's mean prediction, ``H(mean_j p_j)``: high when classes are used evenly (SHOT)."""
    return entropy(probs.mean(dim=0), eps)


class InformationMaximizationTerms(NamedTuple):
    """The IM loss and its two parts, for logging: ``loss = mean_entropy - marginal_entropy``."""

    loss: Tensor
    mean_entropy: Tensor
    marginal_entropy: Tensor


def information_maximization_terms(logits: Tensor, eps: float = SHOT_ENTROPY_EPS) -> InformationMaximizationTerms:
    """SHOT's IM loss with its parts; see :func:`information_maximization`."""
    probs = logits.softmax(dim=-1)
    conditional = mean_entropy(probs, eps)
    marginal = marginal_entropy(probs, eps)
    return InformationMaximizationTerms(conditional - marginal, conditional, marginal)


def information_maximization(logits: Tensor, eps: float = SHOT_ENTROPY_EPS) -> Tensor:
    """Information maximisation (SHOT; the paper's L_IM; SOCKET's L_IM).

    ``mean_j H(p_j) - H(mean_j p_j)`` with ``p = softmax(logits)``. With eps = 0 this is minus the
    plug-in estimate of the mutual information I(X; Y) between inputs and predicted classes, so
    minimising it makes each prediction confident and the predicted classes balanced. Its minimum,
    about ``-log K``, is reached by one-hot predictions spread evenly over the K classes.
    """
    return information_maximization_terms(logits, eps).loss


# --- distillation and alignment --------------------------------------------------------------------


def kl_distillation(teacher_probs: Tensor, student_logits: Tensor, temperature: float = 1.0,
                    weights: Tensor | None = None) -> Tensor:
    """Distillation ``KL(p_teacher || p_student)``, batch mean (the paper's L_KL in TGKT).

    ``teacher_probs`` are probabilities the frozen source model produced at temperature 1 (stored with
    the translated images), so they are re-tempered here rather than recomputed from logits:
    ``p_teacher^T = p^(1/T) / sum_k p_k^(1/T)`` (identical to softmax(teacher_logits / T)) and
    ``p_student^T = softmax(student_logits / T)``. The result is multiplied by T^2, Hinton's convention,
    so that the gradient's scale does not shrink as T grows::

        T^2 * mean_j sum_k p_teacher^T_jk (log p_teacher^T_jk - log p_student^T_jk)

    Teacher entries equal to 0 contribute 0 (0 log 0 = 0). T = 1 gives the plain KL. With ``weights``
    (N,), the per-sample terms are averaged with those weights: ``sum_j w_j KL_j / N``.
    """
    _check_same_shape(teacher_probs, student_logits, "teacher_probs", "student_logits")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    # log(0) = -inf stays -inf after dividing by T and becomes probability 0 in the log-softmax.
    teacher_log_probs = (teacher_probs.log() / temperature).log_softmax(dim=-1)
    student_log_probs = (student_logits / temperature).log_softmax(dim=-1)
    teacher = teacher_log_probs.exp()
    # torch.where keeps 0 * (-inf - x) = nan out of the sum where the teacher gives a class no mass.
    pointwise = torch.where(teacher > 0, teacher * (teacher_log_probs - student_log_probs), 0.0)
    per_sample = pointwise.sum(dim=-1)
    if weights is not None:
        per_sample = per_sample * weights
    return per_sample.mean() * temperature**2


def teacher_confidence(probs: Tensor) -> Tensor:
    """``1 - H(p_j) / log K`` per row: 1 for a one-hot prediction, 0 for the uniform one.

    A label-free weight for distilling a teacher that may know little: TGKT's
    ``--kl-weighting confidence`` scales each translation's L_KL term by it.
    """
    return 1.0 - entropy(probs, eps=0.0) / math.log(probs.shape[-1])


def feature_alignment(
    target_features: Tensor,
    source_features: Tensor,
    reduction: Literal["frobenius", "mean"] = "frobenius",
) -> Tensor:
    """Distance between paired features (SOCKET's L_TI; the paper's L_f in TGKT).

    ``reduction="frobenius"`` (SOCKET): ``|| Z_s - Z_t ||_F``, the plain norm of the whole (N, D)
    difference, neither squared nor averaged, so it grows like sqrt(N) with the batch size.
    ``reduction="mean"`` (our design option): ``mean_j || z_s,j - z_t,j ||_2``, the mean per-sample L2
    distance, independent of the batch size. Features of more than two dimensions are flattened per
    sample. The gradient at zero distance is 0 (PyTorch's subgradient).
    """
    _check_same_shape(target_features, source_features, "target_features", "source_features")
    difference = source_features - target_features
    if reduction == "frobenius":
        return torch.linalg.vector_norm(difference)
    if reduction == "mean":
        return torch.linalg.vector_norm(difference.flatten(start_dim=1), dim=1).mean()
    raise ValueError(f"reduction must be 'frobenius' or 'mean', got {reduction!r}")


def perceptual_distance(fake_maps: list[Tensor], real_maps: list[Tensor]) -> Tensor:
    """Mean over layers of the mean squared difference of paired feature maps (the bridge's L_perc)::

        (1 / L) sum_l mean_{n,c,h,w} (phi_l(T(x_t)) - phi_l(x_s))^2

    ``fake_maps[l]`` and ``real_maps[l]`` are layer l's outputs inside the frozen source backbone for a
    translation and for its paired RGB image. Unlike pixel MSE, whose minimiser is the blurred conditional
    mean, this asks for what the source model sees: edges, textures and parts at several depths.
    """
    if len(fake_maps) != len(real_maps) or not fake_maps:
        raise ValueError(f"need the same number of feature maps on both sides, got {len(fake_maps)} and "
                         f"{len(real_maps)}")
    for fake, real in zip(fake_maps, real_maps):
        _check_same_shape(fake, real, "fake_maps", "real_maps")
    return torch.stack([torch.mean((f.float() - r.float()) ** 2) for f, r in zip(fake_maps, real_maps)]).mean()


# --- BatchNorm statistics (SOCKET) ---------------------------------------------------------------


def batchnorm_input_statistics(inputs: Tensor) -> tuple[Tensor, Tensor]:
    """Per-channel batch mean and biased variance of a BatchNorm layer's input (SOCKET's L_BN).

    Channels are dimension 1, as BatchNorm1d/2d/3d expect: (N, C), (N, C, L), (N, C, H, W), ...
    Statistics are over every other dimension; the variance divides by the count (biased), as
    BatchNorm normalises a training batch.
    """
    if inputs.dim() < 2:
        raise ValueError(f"inputs must have a batch and a channel dimension, got shape {tuple(inputs.shape)}")
    reduce_dims = [0, *range(2, inputs.dim())]
    var, mean = torch.var_mean(inputs, dim=reduce_dims, correction=0)
    return mean, var


def batchnorm_statistics_loss(
    batch_means: Sequence[Tensor],
    batch_vars: Sequence[Tensor],
    running_means: Sequence[Tensor],
    running_vars: Sequence[Tensor],
    layer_weights: Sequence[float],
) -> Tensor:
    """SOCKET's L_BN: match target-batch statistics to the source model's BatchNorm running statistics.

    ``sum_l m_l * ( ||mu_t,l - mu_s,l||_2 + ||var_t,l - var_s,l||_2 )`` over BatchNorm layers l, with
    plain (not squared) L2 norms over channels. mu_t, var_t come from
    :func:`batchnorm_input_statistics` on the target batch (biased variance), mu_s, var_s are the
    frozen source model's ``running_mean`` and ``running_var``; m_l from :func:`socket_bn_layer_weights`.
    """
    n_layers = len(layer_weights)
    if n_layers == 0:
        raise ValueError("batchnorm_statistics_loss needs at least one BatchNorm layer")
    lengths = {len(batch_means), len(batch_vars), len(running_means), len(running_vars), n_layers}
    if len(lengths) != 1:
        raise ValueError(
            "one entry per layer is needed in every list; got "
            f"{len(batch_means)} batch means, {len(batch_vars)} batch vars, {len(running_means)} running means, "
            f"{len(running_vars)} running vars and {n_layers} layer weights"
        )
    terms = []
    for batch_mean, batch_var, running_mean, running_var, weight in zip(
        batch_means, batch_vars, running_means, running_vars, layer_weights
    ):
        _check_same_shape(batch_mean, running_mean, "batch mean", "running mean")
        _check_same_shape(batch_var, running_var, "batch var", "running var")
        distance = torch.linalg.vector_norm(batch_mean - running_mean) + torch.linalg.vector_norm(
            batch_var - running_var
        )
        terms.append(weight * distance)
    return torch.stack(terms).sum()


def socket_bn_layer_weights(n_layers: int, first: float = 10.0, rest: float = 1.0) -> list[float]:
    """SOCKET's per-layer weights m_l for L_BN: ``first`` for the first BatchNorm layer, ``rest`` for the others."""
    if n_layers < 0:
        raise ValueError(f"n_layers must be >= 0, got {n_layers}")
    return [first if layer == 0 else rest for layer in range(n_layers)]


# --- translation (TGMB) -------------------------------------------------------------------------------


def reconstruction_mse(pred: Tensor, target: Tensor) -> Tensor:
    """The paper's L_rec (Eq. 1): ``mean || T(x_t) - x_s ||^2``, the mean over every element."""
    _check_same_shape(pred, target, "pred", "target")
    return F.mse_loss(pred, target)


def _check_gan_kind(kind: str) -> None:
    if kind not in GAN_KINDS:
        raise ValueError(f"unknown GAN loss kind {kind!r}; choose one of {', '.join(GAN_KINDS)}")


def gan_discriminator_loss(real_logits: Tensor, fake_logits: Tensor, kind: GanKind = "nonsaturating") -> Tensor:
    """Discriminator loss on raw logits of any shape (e.g. PatchGAN maps), each term a mean over elements.

    - ``nonsaturating`` (Goodfellow et al.): ``BCE(real, 1) + BCE(fake, 0)`` on logits, i.e.
      ``mean softplus(-real) + mean softplus(fake)``.
    - ``hinge`` (Lim & Ye; Miyato et al.): ``mean relu(1 - real) + mean relu(1 + fake)``.
    - ``lsgan`` (Mao et al.): ``mean (real - 1)^2 + mean fake^2``.

    The real and fake terms are summed, not halved: pix2pix (and the LSGAN paper) multiply the
    discriminator loss by 0.5, which under Adam changes almost nothing and under SGD equals halving
    the discriminator's learning rate. (Our design; L_D of the paper's TGMB stage.)
    """
    _check_gan_kind(kind)
    if kind == "nonsaturating":
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    if kind == "hinge":
        return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()
    return (real_logits - 1.0).square().mean() + fake_logits.square().mean()


def gan_generator_loss(fake_logits: Tensor, kind: GanKind = "nonsaturating") -> Tensor:
    """Generator (translator) loss on the discriminator's raw logits for generated images.

    - ``nonsaturating``: ``BCE(fake, 1) = mean softplus(-fake)``.
    - ``hinge``: ``-mean fake``.
    - ``lsgan``: ``mean (fake - 1)^2``.

    (Our design; the translator's adversarial term alpha_d * L_D in TGMB.)
    """
    _check_gan_kind(kind)
    if kind == "nonsaturating":
        return F.softplus(-fake_logits).mean()
    if kind == "hinge":
        return -fake_logits.mean()
    return (fake_logits - 1.0).square().mean()
