"""Each loss of xmt.losses against an independent numpy formula, in float32 and float64."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from xmt import losses

DTYPES = [torch.float32, torch.float64]
TOLERANCE = {torch.float32: dict(rtol=1e-5, atol=1e-5), torch.float64: dict(rtol=1e-10, atol=1e-12)}


@pytest.fixture(params=DTYPES, ids=["float32", "float64"])
def dtype(request: pytest.FixtureRequest) -> torch.dtype:
    return request.param


def randn(*shape: int, dtype: torch.dtype, seed: int = 0, scale: float = 1.0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=generator, dtype=torch.float64) * scale).to(dtype)


def assert_matches(actual: torch.Tensor, expected: np.ndarray | float, dtype: torch.dtype) -> None:
    assert actual.dtype == dtype
    np.testing.assert_allclose(actual.detach().double().numpy(), expected, **TOLERANCE[dtype])


def np_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def np_entropy_loop(probs: np.ndarray, eps: float) -> np.ndarray:
    return np.array([-sum(p * math.log(p + eps) for p in row) for row in probs])


# --- classification -------------------------------------------------------------------------------


def test_label_smoothed_cross_entropy_matches_formula(dtype: torch.dtype) -> None:
    logits = randn(8, 5, dtype=dtype)
    targets = torch.tensor([0, 1, 2, 3, 4, 0, 1, 2])
    log_probs = np.log(np_softmax(logits.double().numpy()))
    smoothed = np.full((8, 5), 0.1 / 5) + 0.9 * np.eye(5)[targets.numpy()]
    expected = -(smoothed * log_probs).sum(axis=1).mean()
    assert_matches(losses.label_smoothed_cross_entropy(logits, targets, epsilon=0.1), expected, dtype)


def test_label_smoothed_cross_entropy_without_smoothing_is_cross_entropy() -> None:
    logits = randn(6, 4, dtype=torch.float64)
    targets = torch.tensor([0, 1, 2, 3, 0, 1])
    expected = -np.log(np_softmax(logits.numpy()))[np.arange(6), targets.numpy()].mean()
    assert_matches(losses.label_smoothed_cross_entropy(logits, targets, epsilon=0.0), expected, torch.float64)


def test_label_smoothed_cross_entropy_rejects_bad_epsilon() -> None:
    with pytest.raises(ValueError, match="epsilon"):
        losses.label_smoothed_cross_entropy(torch.zeros(2, 3), torch.tensor([0, 1]), epsilon=1.5)


def test_pseudo_label_cross_entropy_skips_ignored_samples(dtype: torch.dtype) -> None:
    logits = randn(6, 3, dtype=dtype, seed=1)
    labels = torch.tensor([2, -1, 0, -1, 1, 1])
    kept = labels.numpy() != -1
    log_probs = np.log(np_softmax(logits.double().numpy()))
    expected = -log_probs[kept, labels.numpy()[kept]].mean()
    assert_matches(losses.pseudo_label_cross_entropy(logits, labels), expected, dtype)


def test_pseudo_label_cross_entropy_custom_ignore_index() -> None:
    logits = randn(4, 3, dtype=torch.float64, seed=2)
    labels = torch.tensor([255, 1, 255, 2])
    log_probs = np.log(np_softmax(logits.numpy()))
    expected = -(log_probs[1, 1] + log_probs[3, 2]) / 2
    assert_matches(losses.pseudo_label_cross_entropy(logits, labels, ignore_index=255), expected, torch.float64)


def test_pseudo_label_cross_entropy_all_ignored_is_differentiable_zero() -> None:
    logits = randn(4, 3, dtype=torch.float32).requires_grad_()
    loss = losses.pseudo_label_cross_entropy(logits, torch.full((4,), -1))
    loss.backward()
    assert loss.item() == 0.0
    assert torch.equal(logits.grad, torch.zeros_like(logits))


# --- information maximisation -------------------------------------------------------------------


@pytest.mark.parametrize("eps", [0.0, 1e-5])
def test_entropies_match_loops(dtype: torch.dtype, eps: float) -> None:
    probs = randn(7, 4, dtype=dtype, seed=3).softmax(dim=1)
    p = probs.double().numpy()
    per_sample = np_entropy_loop(p, eps)
    assert_matches(losses.entropy(probs, eps), per_sample, dtype)
    assert_matches(losses.mean_entropy(probs, eps), per_sample.mean(), dtype)
    assert_matches(losses.marginal_entropy(probs, eps), np_entropy_loop(p.mean(axis=0, keepdims=True), eps)[0], dtype)


def test_entropy_default_eps_is_shots() -> None:
    probs = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    # -(1 * log(1 + 1e-5) + 0 * log(1e-5))
    assert_matches(losses.entropy(probs), [-math.log(1 + 1e-5)], torch.float64)


def test_information_maximization_is_mean_minus_marginal_entropy(dtype: torch.dtype) -> None:
    logits = randn(10, 6, dtype=dtype, seed=4, scale=2.0)
    p = np_softmax(logits.double().numpy())
    expected = np_entropy_loop(p, 1e-5).mean() - np_entropy_loop(p.mean(axis=0, keepdims=True), 1e-5)[0]
    assert_matches(losses.information_maximization(logits), expected, dtype)

    terms = losses.information_maximization_terms(logits)
    assert_matches(terms.loss, expected, dtype)
    assert_matches(terms.mean_entropy, np_entropy_loop(p, 1e-5).mean(), dtype)
    assert_matches(terms.marginal_entropy, np_entropy_loop(p.mean(axis=0, keepdims=True), 1e-5)[0], dtype)


def test_information_maximization_is_minus_plug_in_mutual_information(dtype: torch.dtype) -> None:
    logits = randn(12, 5, dtype=dtype, seed=5, scale=2.0)
    p = np_softmax(logits.double().numpy())
    marginal = p.mean(axis=0)
    # I(X; Y) estimated as mean_j KL(p(y | x_j) || p(y)).
    mutual_information = np.mean([sum(pk * math.log(pk / mk) for pk, mk in zip(row, marginal)) for row in p])
    assert_matches(losses.information_maximization(logits, eps=0.0), -mutual_information, dtype)
    # SHOT's eps = 1e-5 moves the value only slightly.
    np.testing.assert_allclose(losses.information_maximization(logits).item(), -mutual_information, atol=1e-3)


def test_information_maximization_prefers_confident_balanced_predictions() -> None:
    k = 4
    confident_balanced = 20.0 * torch.eye(k, dtype=torch.float64).repeat(2, 1)  # 8 samples, 2 per class
    confident_collapsed = 20.0 * torch.eye(k, dtype=torch.float64)[[0] * 8]  # 8 samples, all class 0
    uncertain = torch.zeros(8, k, dtype=torch.float64)  # uniform predictions
    im = losses.information_maximization
    assert im(confident_balanced).item() == pytest.approx(-math.log(k), abs=1e-3)
    assert im(confident_collapsed).item() == pytest.approx(0.0, abs=1e-3)
    assert im(uncertain).item() == pytest.approx(0.0, abs=1e-3)
    assert im(confident_balanced) < im(confident_collapsed)
    assert im(confident_balanced) < im(uncertain)


def test_information_maximization_gradcheck() -> None:
    logits = randn(5, 3, dtype=torch.float64, seed=6).requires_grad_()
    assert torch.autograd.gradcheck(losses.information_maximization, (logits,))


# --- distillation ---------------------------------------------------------------------------------


def np_kl_distillation(teacher: np.ndarray, student_logits: np.ndarray, temperature: float) -> float:
    tempered = teacher ** (1.0 / temperature)
    tempered /= tempered.sum(axis=1, keepdims=True)
    student = np_softmax(student_logits / temperature)
    per_sample = [
        sum(t * (math.log(t) - math.log(s)) for t, s in zip(t_row, s_row) if t > 0)
        for t_row, s_row in zip(tempered, student)
    ]
    return temperature**2 * float(np.mean(per_sample))


@pytest.mark.parametrize("temperature", [1.0, 2.0, 4.0])
def test_kl_distillation_matches_formula(dtype: torch.dtype, temperature: float) -> None:
    teacher = randn(9, 5, dtype=dtype, seed=7, scale=2.0).softmax(dim=1)
    student_logits = randn(9, 5, dtype=dtype, seed=8, scale=2.0)
    expected = np_kl_distillation(teacher.double().numpy(), student_logits.double().numpy(), temperature)
    assert_matches(losses.kl_distillation(teacher, student_logits, temperature), expected, dtype)


def test_kl_distillation_at_temperature_one_is_torch_kl_div() -> None:
    teacher = randn(6, 4, dtype=torch.float64, seed=9).softmax(dim=1)
    student_logits = randn(6, 4, dtype=torch.float64, seed=10)
    expected = F.kl_div(student_logits.log_softmax(dim=1), teacher, reduction="batchmean")
    torch.testing.assert_close(losses.kl_distillation(teacher, student_logits), expected)


@pytest.mark.parametrize("temperature", [1.0, 3.0])
def test_kl_distillation_is_zero_iff_student_equals_teacher(temperature: float) -> None:
    teacher = randn(6, 4, dtype=torch.float64, seed=11).softmax(dim=1)
    # Logits log(p) + any per-sample constant give the teacher's distribution at every temperature.
    same = teacher.log() + 3.0
    assert losses.kl_distillation(teacher, same, temperature).item() == pytest.approx(0.0, abs=1e-12)
    different = randn(6, 4, dtype=torch.float64, seed=12)
    assert losses.kl_distillation(teacher, different, temperature).item() > 1e-3


def test_kl_distillation_handles_teacher_zeros(dtype: torch.dtype) -> None:
    teacher = torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]], dtype=dtype)
    student_logits = randn(2, 3, dtype=dtype, seed=13).requires_grad_()
    loss = losses.kl_distillation(teacher, student_logits, temperature=2.0)
    loss.backward()
    expected = np_kl_distillation(teacher.double().numpy(), student_logits.detach().double().numpy(), 2.0)
    assert_matches(loss, expected, dtype)
    assert torch.isfinite(student_logits.grad).all()


def test_kl_distillation_temperature_tempers_teacher_like_logits() -> None:
    # Re-tempering stored probabilities must equal computing softmax(teacher_logits / T) directly.
    teacher_logits = randn(5, 4, dtype=torch.float64, seed=14, scale=3.0)
    student_logits = randn(5, 4, dtype=torch.float64, seed=15)
    t = 2.5
    tempered_teacher = (teacher_logits / t).softmax(dim=1)
    student = (student_logits / t).log_softmax(dim=1)
    expected = t**2 * F.kl_div(student, tempered_teacher, reduction="batchmean")
    torch.testing.assert_close(losses.kl_distillation(teacher_logits.softmax(dim=1), student_logits, t), expected)


def test_kl_distillation_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="temperature"):
        losses.kl_distillation(torch.full((2, 3), 1 / 3), torch.zeros(2, 3), temperature=0.0)
    with pytest.raises(ValueError, match="shape"):
        losses.kl_distillation(torch.full((2, 3), 1 / 3), torch.zeros(2, 4))


def test_kl_distillation_gradcheck() -> None:
    teacher = randn(4, 3, dtype=torch.float64, seed=16).softmax(dim=1)
    student_logits = randn(4, 3, dtype=torch.float64, seed=17).requires_grad_()
    assert torch.autograd.gradcheck(lambda s: losses.kl_distillation(teacher, s, temperature=2.0), (student_logits,))


# --- feature alignment ----------------------------------------------------------------------------


def test_feature_alignment_frobenius_and_mean(dtype: torch.dtype) -> None:
    target = randn(6, 8, dtype=dtype, seed=18)
    source = randn(6, 8, dtype=dtype, seed=19)
    difference = source.double().numpy() - target.double().numpy()
    frobenius = math.sqrt(sum(x * x for x in difference.ravel()))
    mean_l2 = np.mean([math.sqrt(sum(x * x for x in row)) for row in difference])
    assert_matches(losses.feature_alignment(target, source), frobenius, dtype)
    assert_matches(losses.feature_alignment(target, source, reduction="mean"), mean_l2, dtype)


def test_feature_alignment_reductions_scale_differently_with_batch_size() -> None:
    # Every pair at distance 2: the Frobenius norm is 2 * sqrt(N), the mean per-sample distance 2.
    target = torch.zeros(9, 4, dtype=torch.float64)
    source = torch.zeros(9, 4, dtype=torch.float64)
    source[:, 1] = 2.0
    assert losses.feature_alignment(target, source).item() == pytest.approx(6.0)
    assert losses.feature_alignment(target, source, reduction="mean").item() == pytest.approx(2.0)


def test_feature_alignment_mean_flattens_each_sample() -> None:
    target = randn(3, 2, 5, dtype=torch.float64, seed=20)
    source = randn(3, 2, 5, dtype=torch.float64, seed=21)
    expected = losses.feature_alignment(target.flatten(1), source.flatten(1), reduction="mean")
    torch.testing.assert_close(losses.feature_alignment(target, source, reduction="mean"), expected)


def test_feature_alignment_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="shape"):
        losses.feature_alignment(torch.zeros(4, 8), torch.zeros(5, 8))
    with pytest.raises(ValueError, match="reduction"):
        losses.feature_alignment(torch.zeros(4, 8), torch.zeros(4, 8), reduction="sum")


@pytest.mark.parametrize("reduction", ["frobenius", "mean"])
def test_feature_alignment_gradcheck(reduction: str) -> None:
    target = randn(4, 3, dtype=torch.float64, seed=22).requires_grad_()
    source = randn(4, 3, dtype=torch.float64, seed=23)
    assert torch.autograd.gradcheck(lambda t: losses.feature_alignment(t, source, reduction=reduction), (target,))


def test_feature_alignment_gradient_is_finite_at_zero_distance() -> None:
    target = torch.ones(3, 4, requires_grad=True)
    losses.feature_alignment(target, torch.ones(3, 4)).backward()
    assert torch.isfinite(target.grad).all()


# --- BatchNorm statistics -------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(16, 3), (4, 3, 5, 6), (4, 3, 7)])
def test_batchnorm_input_statistics_match_loops(dtype: torch.dtype, shape: tuple[int, ...]) -> None:
    x = randn(*shape, dtype=dtype, seed=24, scale=3.0) + 1.0
    channels_last = np.moveaxis(x.double().numpy(), 1, -1).reshape(-1, shape[1])
    expected_mean = [sum(column) / len(column) for column in channels_last.T]
    expected_var = [
        sum((v - m) ** 2 for v in column) / len(column) for column, m in zip(channels_last.T, expected_mean)
    ]
    mean, var = losses.batchnorm_input_statistics(x)
    assert_matches(mean, expected_mean, dtype)
    assert_matches(var, expected_var, dtype)


def test_batchnorm_input_statistics_are_what_batchnorm_uses() -> None:
    x = randn(5, 3, 4, 4, dtype=torch.float64, seed=25, scale=2.0)
    bn = torch.nn.BatchNorm2d(3, affine=False, momentum=1.0).double().train()
    normalised = bn(x)
    mean, var = losses.batchnorm_input_statistics(x)
    # Training-mode BatchNorm normalises with the biased variance ...
    expected = (x - mean[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + bn.eps)
    torch.testing.assert_close(normalised, expected)
    torch.testing.assert_close(var, x.var(dim=(0, 2, 3), unbiased=False))
    # ... but stores the unbiased one in running_var (momentum 1 keeps only this batch).
    n = 5 * 4 * 4
    torch.testing.assert_close(bn.running_mean, mean)
    torch.testing.assert_close(bn.running_var, var * n / (n - 1))


def test_batchnorm_input_statistics_reject_1d_input() -> None:
    with pytest.raises(ValueError, match="channel"):
        losses.batchnorm_input_statistics(torch.zeros(5))


def make_bn_statistics(dtype: torch.dtype, channels: tuple[int, ...] = (3, 5, 2)) -> list[list[torch.Tensor]]:
    return [[randn(c, dtype=dtype, seed=100 * i + j).abs() for j, c in enumerate(channels)] for i in range(4)]


def test_batchnorm_statistics_loss_matches_formula(dtype: torch.dtype) -> None:
    batch_means, batch_vars, running_means, running_vars = make_bn_statistics(dtype)
    weights = [10.0, 1.0, 1.0]
    expected = 0.0
    for layer in range(3):
        mean_gap = batch_means[layer].double().numpy() - running_means[layer].double().numpy()
        var_gap = batch_vars[layer].double().numpy() - running_vars[layer].double().numpy()
        expected += weights[layer] * (math.sqrt((mean_gap**2).sum()) + math.sqrt((var_gap**2).sum()))
    loss = losses.batchnorm_statistics_loss(batch_means, batch_vars, running_means, running_vars, weights)
    assert_matches(loss, expected, dtype)


def test_batchnorm_statistics_loss_weights_each_layer() -> None:
    zero, one = torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
    # Layer 0 has only a mean gap of norm 2, layer 1 only a variance gap of norm 2.
    loss = losses.batchnorm_statistics_loss([one, zero], [zero, one], [zero, zero], [zero, zero], [10.0, 1.0])
    assert loss.item() == pytest.approx(10.0 * 2.0 + 1.0 * 2.0)


def test_batchnorm_statistics_loss_rejects_mismatched_lists() -> None:
    stats = make_bn_statistics(torch.float32)
    with pytest.raises(ValueError, match="one entry per layer"):
        losses.batchnorm_statistics_loss(*stats, [10.0, 1.0])
    with pytest.raises(ValueError, match="at least one"):
        losses.batchnorm_statistics_loss([], [], [], [], [])
    with pytest.raises(ValueError, match="shape"):
        losses.batchnorm_statistics_loss([torch.zeros(3)], [torch.zeros(3)], [torch.zeros(4)], [torch.zeros(3)], [1.0])


def test_batchnorm_statistics_loss_gradcheck() -> None:
    batch_means, batch_vars, running_means, running_vars = make_bn_statistics(torch.float64)
    inputs = tuple(t.requires_grad_() for t in batch_means + batch_vars)

    def loss(*tensors: torch.Tensor) -> torch.Tensor:
        return losses.batchnorm_statistics_loss(tensors[:3], tensors[3:], running_means, running_vars, [10.0, 1.0, 1.0])

    assert torch.autograd.gradcheck(loss, inputs)


def test_socket_bn_layer_weights() -> None:
    assert losses.socket_bn_layer_weights(4) == [10.0, 1.0, 1.0, 1.0]
    assert losses.socket_bn_layer_weights(1) == [10.0]
    assert losses.socket_bn_layer_weights(0) == []
    assert losses.socket_bn_layer_weights(3, first=2.0, rest=0.5) == [2.0, 0.5, 0.5]


# --- translation losses ---------------------------------------------------------------------------


def test_reconstruction_mse_matches_formula(dtype: torch.dtype) -> None:
    pred = randn(2, 3, 4, 4, dtype=dtype, seed=26)
    target = randn(2, 3, 4, 4, dtype=dtype, seed=27)
    expected = ((pred.double().numpy() - target.double().numpy()) ** 2).mean()
    assert_matches(losses.reconstruction_mse(pred, target), expected, dtype)


def test_reconstruction_mse_refuses_to_broadcast() -> None:
    with pytest.raises(ValueError, match="shape"):
        losses.reconstruction_mse(torch.zeros(2, 3, 4, 4), torch.zeros(1, 3, 4, 4))


def np_softplus(x: np.ndarray) -> np.ndarray:
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


@pytest.mark.parametrize("kind", ["nonsaturating", "hinge", "lsgan"])
def test_gan_losses_match_formulas(dtype: torch.dtype, kind: str) -> None:
    real = randn(3, 1, 5, 5, dtype=dtype, seed=28, scale=2.0)  # PatchGAN-shaped logits
    fake = randn(3, 1, 5, 5, dtype=dtype, seed=29, scale=2.0)
    r, f = real.double().numpy(), fake.double().numpy()
    sigmoid = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    expected_d, expected_g = {
        "nonsaturating": (
            -np.log(sigmoid(r)).mean() - np.log(1 - sigmoid(f)).mean(),
            -np.log(sigmoid(f)).mean(),
        ),
        "hinge": (np.maximum(0, 1 - r).mean() + np.maximum(0, 1 + f).mean(), -f.mean()),
        "lsgan": (((r - 1) ** 2).mean() + (f**2).mean(), ((f - 1) ** 2).mean()),
    }[kind]
    assert_matches(losses.gan_discriminator_loss(real, fake, kind=kind), expected_d, dtype)
    assert_matches(losses.gan_generator_loss(fake, kind=kind), expected_g, dtype)


def test_nonsaturating_gan_losses_are_bce_with_logits() -> None:
    real = randn(4, 1, 3, 3, dtype=torch.float64, seed=30, scale=5.0)
    fake = randn(4, 1, 3, 3, dtype=torch.float64, seed=31, scale=5.0)
    bce = F.binary_cross_entropy_with_logits
    expected_d = bce(real, torch.ones_like(real)) + bce(fake, torch.zeros_like(fake))
    torch.testing.assert_close(losses.gan_discriminator_loss(real, fake), expected_d)
    torch.testing.assert_close(losses.gan_generator_loss(fake), bce(fake, torch.ones_like(fake)))


def test_gan_losses_reject_unknown_kind() -> None:
    with pytest.raises(ValueError, match="wgan"):
        losses.gan_discriminator_loss(torch.zeros(2), torch.zeros(2), kind="wgan")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="wgan"):
        losses.gan_generator_loss(torch.zeros(2), kind="wgan")  # type: ignore[arg-type]


def test_weighted_kl_distillation_is_the_weighted_mean_of_per_sample_terms(dtype: torch.dtype) -> None:
    teacher = randn(7, 4, dtype=dtype, seed=21, scale=2.0).softmax(dim=1)
    student_logits = randn(7, 4, dtype=dtype, seed=22, scale=2.0)
    weights = torch.linspace(0.0, 1.0, 7, dtype=dtype)
    per_sample = [np_kl_distillation(teacher[i:i + 1].double().numpy(), student_logits[i:i + 1].double().numpy(), 2.0)
                  for i in range(7)]
    expected = float(np.mean(np.array(per_sample) * weights.double().numpy()))
    assert_matches(losses.kl_distillation(teacher, student_logits, 2.0, weights), expected, dtype)


def test_teacher_confidence_is_one_minus_normalised_entropy() -> None:
    probs = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25], [0.7, 0.1, 0.1, 0.1]], dtype=torch.float64)
    entropy_last = -(0.7 * math.log(0.7) + 3 * 0.1 * math.log(0.1))
    expected = torch.tensor([1.0, 0.0, 1.0 - entropy_last / math.log(4)], dtype=torch.float64)
    torch.testing.assert_close(losses.teacher_confidence(probs), expected)
