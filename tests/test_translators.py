"""Translators: shapes and range, gradients, rebuild from config, sizes, fitting, VQ codebook upkeep."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from xmt.models.translators import TRANSLATORS, Translator, build_translator, vq

NAMES = TRANSLATORS.names()  # every registered translator: a new one is checked here without an edit
# Scaled-down options so that training loops stay fast on a CPU (a translator not named here: its defaults).
SMALL = {
    "unet": {"base_channels": 8, "depth": 2},
    "vq": {"base_channels": 16, "embed_dim": 16, "codebook_size": 64},
}


@pytest.fixture(autouse=True)
def one_thread():
    """These models are tiny: one thread is fastest, and does not stall when other work shares the CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def n_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def smooth_fields(n: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """Smooth random single-channel images in [0, 1], like scaled depth maps."""
    coarse = torch.rand(n, 1, 4, 4, generator=generator)
    return F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False).clamp(0, 1)


def colour_map(x: torch.Tensor) -> torch.Tensor:
    """A fixed, non-monotonic per-pixel map from [0, 1] to RGB in [0, 1]."""
    return torch.cat([x, (1 - x) ** 2, 0.5 + 0.5 * torch.sin(6.0 * x)], dim=1)


def test_registry_names_match_classes():
    assert {"light", "unet", "vq"} <= set(NAMES)
    for name, cls in TRANSLATORS.items():
        assert cls.name == name and issubclass(cls, Translator)


def test_unknown_name_lists_known_ones():
    with pytest.raises(ValueError, match="light.*unet.*vq"):
        build_translator("pix2pixhd")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("size", [(32, 32), (48, 80), (64, 64)])
def test_output_shape_and_range(name, size):
    torch.manual_seed(0)
    translator = build_translator(name)
    # Large and negative values push the output towards the sigmoid's ends; it must stay in [0, 1].
    x = torch.cat([torch.rand(1, 1, *size), 50 * torch.randn(1, 1, *size)])
    for mode in (True, False):
        translator.train(mode)
        y = translator(x)
        assert y.shape == (2, 3, *size)
        assert y.dtype == torch.float32
        assert 0.0 <= y.min() and y.max() <= 1.0


@pytest.mark.parametrize("name", NAMES)
def test_works_at_256(name):
    with torch.no_grad():
        y = build_translator(name).eval()(torch.rand(1, 1, 256, 256))
    assert y.shape == (1, 3, 256, 256)


@pytest.mark.parametrize("name, size", [("unet", 36), ("vq", 30)])
def test_indivisible_size_is_a_clear_error(name, size):
    with pytest.raises(ValueError, match="divisible"):
        build_translator(name)(torch.rand(1, 1, size, size))


def test_in_channels_option():
    for name in NAMES:
        assert build_translator(name, in_channels=3)(torch.rand(2, 3, 32, 32)).shape == (2, 3, 32, 32)


@pytest.mark.parametrize("name", NAMES)
def test_gradients_reach_every_parameter(name):
    torch.manual_seed(0)
    translator = build_translator(name)
    y = translator(torch.rand(2, 1, 32, 32))
    loss = F.mse_loss(y, torch.rand_like(y)) + translator.aux_loss()
    loss.backward()
    for param_name, param in translator.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, param_name


def test_vq_straight_through_and_codebook_gradients():
    torch.manual_seed(0)
    translator = build_translator("vq")
    codebook = translator.quantizer.codebook
    y = translator(torch.rand(2, 1, 32, 32))
    # The output loss reaches the encoder through the straight-through estimator, not the codebook...
    F.mse_loss(y, torch.rand_like(y)).backward(retain_graph=True)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in translator.encoder.parameters())
    assert codebook.grad is None
    # ...which learns from the codebook term of aux_loss.
    translator.aux_loss().backward()
    assert codebook.grad is not None and codebook.grad.abs().sum() > 0


@pytest.mark.parametrize("name", ["light", "unet"])
def test_aux_loss_is_zero_and_stats_empty_without_a_codebook(name):
    translator = build_translator(name)
    translator(torch.rand(2, 1, 32, 32))
    assert translator.aux_loss().shape == () and translator.aux_loss().item() == 0.0
    assert translator.stats() == {}


def test_vq_aux_loss_and_stats():
    translator = build_translator("vq", **SMALL["vq"])
    assert translator.aux_loss().shape == () and translator.aux_loss().item() == 0.0  # before any forward
    translator(torch.rand(4, 1, 32, 32))
    loss = translator.aux_loss()
    assert loss.shape == () and loss.item() > 0 and loss.requires_grad
    stats = translator.stats()
    assert set(stats) == {"codebook_usage", "perplexity", "codes_restarted", "codes_restarted_total"}
    assert 0 < stats["codebook_usage"] <= 1
    assert 1 <= stats["perplexity"] <= 64
    assert all(isinstance(value, float) for value in stats.values())


@pytest.mark.parametrize("name", NAMES)
def test_rebuild_from_config_gives_identical_outputs(name):
    torch.manual_seed(0)
    original = build_translator(name, **SMALL.get(name, {}))
    optimiser = torch.optim.Adam(original.parameters(), lr=1e-2)
    for _ in range(3):  # move weights, BN running statistics and the VQ buffers off their initial values
        y = original(torch.rand(4, 1, 32, 32))
        loss = F.mse_loss(y, torch.rand_like(y)) + original.aux_loss()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    metadata = json.loads(json.dumps({"name": original.name, "config": original.config()}))
    rebuilt = build_translator(metadata["name"], **metadata["config"])
    rebuilt.load_state_dict(original.state_dict(), strict=True)
    assert rebuilt.config() == original.config()
    original.eval()
    rebuilt.eval()
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(rebuilt(x), original(x))


def test_parameter_counts_at_defaults():
    assert n_parameters(build_translator("light")) < 1_000
    assert 1_000_000 <= n_parameters(build_translator("unet")) <= 3_000_000
    assert n_parameters(build_translator("vq")) < 2_000_000


def test_options_scale_the_models():
    default_unet = n_parameters(build_translator("unet"))
    assert n_parameters(build_translator("unet", base_channels=64, depth=4)) > 4 * default_unet
    assert n_parameters(build_translator("light", hidden=64)) > n_parameters(build_translator("light"))
    vq = build_translator("vq", codebook_size=512, embed_dim=32, downsample=8)
    assert vq.quantizer.codebook.shape == (512, 32)
    assert vq.encoder(torch.rand(1, 1, 64, 64)).shape == (1, 32, 8, 8)


@pytest.mark.parametrize("name, steps, lr", [("light", 200, 1e-2), ("unet", 150, 1e-2), ("vq", 200, 1e-2)])
def test_learns_a_fixed_colour_map(name, steps, lr):
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    translator = build_translator(name, **SMALL.get(name, {}))
    optimiser = torch.optim.Adam(translator.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        x = smooth_fields(4, 32, generator)
        mse = F.mse_loss(translator(x), colour_map(x))
        optimiser.zero_grad()
        (mse + translator.aux_loss()).backward()
        optimiser.step()
        losses.append(mse.item())
    final = sum(losses[-10:]) / 10
    assert final < 0.2 * losses[0] and final < 0.02, (losses[0], final)


def small_vq(**options) -> vq.VQTranslator:
    translator = build_translator("vq", **(SMALL["vq"] | options))
    assert isinstance(translator, vq.VQTranslator)
    return translator


def test_vq_kmeans_init_runs_once_and_survives_state_dict(monkeypatch):
    calls = []

    def counting_kmeans(points, k, iterations):
        calls.append(points.shape)
        return original_kmeans(points, k, iterations)

    original_kmeans = vq._kmeans
    monkeypatch.setattr(vq, "_kmeans", counting_kmeans)
    torch.manual_seed(0)
    x = torch.rand(8, 1, 32, 32)
    translator = small_vq()

    translator.eval()
    translator(x)  # evaluation never initialises the codebook
    assert not translator.quantizer.initialised and calls == []
    random_codebook_error = translator.aux_loss().item()

    translator.train()
    translator(x)
    assert translator.quantizer.initialised and len(calls) == 1
    assert calls[0] == (8 * 8 * 8, 16)  # every encoder output of the batch, in embed_dim dimensions
    # Centroids of this batch's encoder outputs quantise it far better than the random initial codes.
    assert translator.aux_loss().item() < 0.5 * random_codebook_error
    assert translator.stats()["codebook_usage"] > 0.9
    initialised_codebook = translator.quantizer.codebook.detach().clone()

    translator(x)
    assert len(calls) == 1
    assert torch.equal(translator.quantizer.codebook, initialised_codebook)

    fresh = small_vq()
    fresh.load_state_dict(translator.state_dict(), strict=True)
    fresh.train()
    fresh(x)
    assert len(calls) == 1
    assert torch.equal(fresh.quantizer.codebook, initialised_codebook)


def test_vq_restarts_codes_unused_for_restart_after_steps():
    torch.manual_seed(0)
    restart_after = 3
    translator = small_vq(restart_after=restart_after)
    x = torch.rand(8, 1, 32, 32)
    translator(x)  # k-means initialisation
    codebook = translator.quantizer.codebook
    with torch.no_grad():
        codebook[:8] = 1e3  # far from every encoder output: never nearest, so unused from now on
        translator.quantizer.steps_unused[:8] = 0  # count from this step

    for _ in range(restart_after):
        translator(x)
        assert (codebook[:8] == 1e3).all(), "restarted too early"
    translator(x)  # the next training step after restart_after unused steps restarts them

    assert (codebook[:8] < 1e3).all()
    encoder_outputs = translator.encoder(x).permute(0, 2, 3, 1).reshape(-1, 16)
    largest_difference = (codebook[:8, None, :] - encoder_outputs[None]).abs().amax(dim=2)
    assert largest_difference.min(dim=1).values.max() < 1e-6  # each is one of this batch's encoder outputs
    stats = translator.stats()
    assert stats["codes_restarted"] >= 8 and stats["codes_restarted_total"] >= 8

    translator(x)
    assert translator.stats()["codes_restarted"] == 0  # the restarted codes are now in use


def test_vq_eval_leaves_codebook_and_usage_alone():
    torch.manual_seed(0)
    translator = small_vq(restart_after=1)
    x = torch.rand(4, 1, 32, 32)
    translator(x)
    state = {key: value.clone() for key, value in translator.state_dict().items()}
    translator.eval()
    for _ in range(3):
        translator(x)
    assert all(torch.equal(value, state[key]) for key, value in translator.state_dict().items())
    assert translator.stats()["codes_restarted"] == 0
