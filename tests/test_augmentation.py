"""Random resized crops (train-source --crop-area): the identity crop changes nothing, a centre crop is the centre
magnified, draws stay inside the image and within their area bounds."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from xmt.data.batches import apply_resized_crop, draw_resized_crops


def test_the_whole_image_as_its_crop_is_the_image():
    x = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    whole = torch.tensor([[1.0, 1.0, 0.0, 0.0]]).expand(3, 4)
    torch.testing.assert_close(apply_resized_crop(x, whole), x, rtol=0, atol=1e-6)


def test_a_centre_crop_is_the_centre_magnified():
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    out = apply_resized_crop(x, torch.tensor([[0.5, 0.5, 0.0, 0.0]]))
    expected = F.interpolate(x[:, :, 4:12, 4:12], size=16, mode="bilinear", align_corners=False)
    # the interior: at the border the crop samples its neighbours where interpolate clamps
    torch.testing.assert_close(out[..., 2:-2, 2:-2], expected[..., 2:-2, 2:-2], rtol=0, atol=1e-5)


def test_a_quarter_width_crop_of_a_stripe_pattern_blurs_nothing_away_but_magnifies_it():
    stripes = (torch.arange(32) // 2 % 2).float().view(1, 1, 1, 32).expand(1, 1, 32, 32)
    out = apply_resized_crop(stripes, torch.tensor([[0.25, 0.25, 0.0, 0.0]]))
    period = (out[0, 0, 16, 1:] - out[0, 0, 16, :-1]).abs().gt(0.5).sum()
    assert period < (stripes[0, 0, 16, 1:] - stripes[0, 0, 16, :-1]).abs().gt(0.5).sum() / 2  # 4x fewer edges


def test_drawn_crops_lie_inside_the_image_within_their_area():
    crops = draw_resized_crops(torch.Generator().manual_seed(2), 2000, 0.25)
    width, height, cx, cy = crops.T
    assert bool((width <= 1).all() and (height <= 1).all())
    assert bool(((cx.abs() + width) <= 1 + 1e-6).all() and ((cy.abs() + height) <= 1 + 1e-6).all())
    area = width * height
    assert bool((area >= 0.25 - 1e-6).all()) and area.min() < 0.3 and area.max() > 0.9


def test_train_source_with_crops_trains_another_model_and_records_the_setting(pattern_data, tmp_path, capsys):
    from helpers import run_cli

    from xmt.engine.checkpoint import read_checkpoint

    base = ["train-source", pattern_data["train"], "--backbone", "smallcnn", "--epochs", "1", "--size", "32",
            "--device", "cpu", "-q"]
    for name, extra in (("plain", []), ("crops", ["--crop-area", "0.3"])):
        code, _, err = run_cli([*base, *extra, "--out", tmp_path / f"{name}.safetensors"], capsys)
        assert code == 0, err
    (plain, plain_meta), (crops, crops_meta) = (read_checkpoint(tmp_path / f"{n}.safetensors") for n in ("plain", "crops"))
    assert plain_meta["config"]["crop_area"] == 1.0 and crops_meta["config"]["crop_area"] == 0.3
    assert not torch.equal(plain["head.bias"], crops["head.bias"])
