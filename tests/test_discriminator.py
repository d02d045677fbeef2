"""PatchGAN discriminator: logit grid per input size, receptive field, layers, init, rebuild from config."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from xmt.models.discriminator import NORMS, PatchDiscriminator, build_discriminator

NORM_LAYERS = (nn.InstanceNorm2d, nn.BatchNorm2d)


@pytest.fixture(autouse=True)
def one_thread():
    """These models are tiny: one thread is fastest, and does not stall when other work shares the CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("n_layers", [2, 3])
@pytest.mark.parametrize("height, width", [(32, 32), (64, 64), (64, 96), (128, 128)])
def test_one_logit_per_patch(n_layers, height, width):
    discriminator = build_discriminator(n_layers=n_layers)
    logits = discriminator(torch.randn(2, 3, height, width))
    grid = (height // 2**n_layers - 2, width // 2**n_layers - 2)
    assert logits.shape == (2, 1, *grid)
    assert logits[0].numel() == grid[0] * grid[1]  # 36 patches for a 64x64 image at the default depth


def test_smallest_input_and_too_small_input():
    assert build_discriminator()(torch.randn(1, 3, 24, 24)).shape == (1, 1, 1, 1)
    with pytest.raises(ValueError, match="at least 24"):
        build_discriminator()(torch.randn(1, 3, 16, 16))


def test_logits_are_raw_not_squashed():
    logits = build_discriminator()(10 * torch.randn(4, 3, 64, 64))
    assert logits.min() < 0 or logits.max() > 1


def test_each_logit_sees_a_70_pixel_patch():
    # Instance norm would couple every position through its statistics, so look at the bare conv stack.
    discriminator = build_discriminator(norm="none")
    x = torch.randn(1, 3, 128, 128, requires_grad=True)
    logits = discriminator(x)
    centre = logits.shape[-1] // 2
    logits[0, 0, centre, centre].backward()
    rows, cols = torch.nonzero(x.grad.abs().sum(dim=(0, 1)), as_tuple=True)
    assert rows.max() - rows.min() + 1 == 70 and cols.max() - cols.min() + 1 == 70


@pytest.mark.parametrize("norm", NORMS)
def test_no_norm_on_first_layer(norm):
    layers = list(build_discriminator(norm=norm).model)
    assert isinstance(layers[0], nn.Conv2d) and isinstance(layers[1], nn.LeakyReLU)
    assert layers[1].negative_slope == 0.2
    n_norms = sum(isinstance(layer, NORM_LAYERS) for layer in layers)
    assert n_norms == (0 if norm == "none" else 3)  # every later conv but the last


def test_norm_choice_and_unknown_norm():
    assert any(isinstance(m, nn.InstanceNorm2d) for m in build_discriminator().modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in build_discriminator(norm="batch").modules())
    with pytest.raises(ValueError, match="instance"):
        build_discriminator(norm="group")


def test_pix2pix_initialisation():
    discriminator = build_discriminator(base_channels=64)
    weights = [m.weight for m in discriminator.modules() if isinstance(m, nn.Conv2d)]
    weight = max(weights, key=lambda w: w.numel())  # the largest gives the tightest estimate
    assert abs(weight.std().item() - 0.02) < 0.002 and abs(weight.mean().item()) < 0.002


def test_spectral_norm_bounds_every_conv():
    torch.manual_seed(0)
    discriminator = build_discriminator(spectral_norm=True)
    for _ in range(30):  # one power iteration per training forward
        discriminator(torch.randn(2, 3, 64, 64))
    convs = [m for m in discriminator.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 5
    for conv in convs:
        sigma = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2)
        assert abs(sigma.item() - 1.0) < 0.05


def test_gradients_reach_every_parameter():
    discriminator = build_discriminator(norm="batch")
    discriminator(torch.randn(2, 3, 64, 64)).mean().backward()
    for name, param in discriminator.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


@pytest.mark.parametrize(
    "options", [{}, {"norm": "batch"}, {"norm": "none", "n_layers": 2}, {"spectral_norm": True}]
)
def test_rebuild_from_config_gives_identical_outputs(options):
    torch.manual_seed(0)
    original = build_discriminator(base_channels=16, **options)
    for _ in range(2):  # move BN running statistics and spectral-norm vectors off their initial values
        original(torch.randn(4, 3, 64, 64))
    config = json.loads(json.dumps(original.config()))
    rebuilt = build_discriminator(**config)
    assert isinstance(rebuilt, PatchDiscriminator) and rebuilt.config() == original.config()
    rebuilt.load_state_dict(original.state_dict(), strict=True)
    original.eval()
    rebuilt.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(rebuilt(x), original(x))
