import numpy as np
import pytest
import torch

from xmt.data.encoding import EncodingRecipe, jet_colormap, resize_shorter_side_centre_crop
from xmt.errors import UserError


def test_shorter_side_resize_then_centre_crop():
    image = np.zeros((40, 80, 3), np.uint8)
    image[:, 12:68] = 255  # a band wider than the central square that the crop keeps
    out = resize_shorter_side_centre_crop(image, 20)
    assert out.shape == (20, 20, 3)
    assert out.min() == 255  # the crop holds only the central band


def test_depth_resize_never_blends_invalid_pixels():
    depth = np.full((64, 64), 2000, np.uint16)
    depth[:, :32] = 0  # left half invalid
    depth[10:20, 40:50] = 0  # a hole
    out = resize_shorter_side_centre_crop(depth, 16, masked=True)
    # every output pixel is either invalid or exactly the valid depth: no 1000 mm ghosts
    assert set(np.unique(out)) <= {0, 2000}
    assert (out[:, :7] == 0).all() and (out[:, 9:] > 0).sum() > 0


def test_unmasked_resize_would_blend():
    depth = np.full((64, 64), 2000, np.uint16)
    depth[:, :32] = 0
    out = resize_shorter_side_centre_crop(depth, 16, masked=False)
    assert ((out > 0) & (out < 2000)).any()


def test_depth_values_clipped_to_range_and_invalid_is_zero():
    recipe = EncodingRecipe.for_modality("depth", depth_range_m=(0.5, 4.5))
    native = torch.tensor([0.0, 250.0, 500.0, 2500.0, 4500.0, 9000.0]).view(1, 1, 1, 6)
    unit = recipe.to_unit(native).flatten()
    torch.testing.assert_close(unit, torch.tensor([0.0, 0.0, 0.0, 0.5, 1.0, 1.0]))


def test_replicate_and_colormap_expansion():
    unit = torch.rand(2, 1, 4, 4)
    replicate = EncodingRecipe.for_modality("nir", channels="replicate").expand(unit)
    assert replicate.shape == (2, 3, 4, 4) and torch.equal(replicate[:, 0], replicate[:, 2])
    colour = EncodingRecipe.for_modality("nir", channels="colormap").expand(unit)
    torch.testing.assert_close(colour, jet_colormap(unit[:, 0]))
    # jet: 0 is dark blue, 1 dark red, 0.5 green
    torch.testing.assert_close(jet_colormap(torch.tensor([[[0.0, 0.5, 1.0]]]))[0, :, 0].T,
                               torch.tensor([[0.0, 0.0, 0.5], [0.5, 1.0, 0.5], [0.5, 0.0, 0.0]]))


def test_nir_scaling_follows_bit_depth():
    native = torch.full((1, 1, 2, 2), 255.0)
    assert EncodingRecipe.for_modality("nir", bit_depth=8).to_unit(native).max() == 1.0
    assert EncodingRecipe.for_modality("nir", bit_depth=16).to_unit(native).max() == pytest.approx(255 / 65535)


def test_recipe_round_trips_through_dict_and_reapplies_identically():
    native = torch.randint(0, 6000, (4, 1, 8, 8)).float()
    recipe = EncodingRecipe.for_modality("depth", size=8, depth_range_m=(0.3, 6.0)).with_statistics(native)
    again = EncodingRecipe.from_dict(recipe.to_dict())
    assert again == recipe
    torch.testing.assert_close(again.encode(native), recipe.encode(native))


def test_statistics_standardise_the_data():
    native = torch.randint(0, 256, (16, 1, 8, 8)).float()
    recipe = EncodingRecipe.for_modality("thermal").with_statistics(native)
    encoded = recipe.encode(native)
    assert abs(encoded.mean().item()) < 1e-4
    assert encoded.std().item() == pytest.approx(1.0, abs=1e-2)


def test_normalise_then_denormalise_is_identity():
    recipe = EncodingRecipe.for_modality("rgb")
    x = torch.rand(2, 3, 4, 4)
    torch.testing.assert_close(recipe.denormalise(recipe.normalise(x)), x)


def test_check_native_refuses_other_modalities_and_bit_depths():
    EncodingRecipe.for_modality("nir", bit_depth=8).check_native(np.zeros((4, 4), np.uint8))
    with pytest.raises(UserError, match="does not fit"):
        EncodingRecipe.for_modality("nir", bit_depth=8).check_native(np.zeros((4, 4), np.uint16))
    with pytest.raises(UserError, match="does not fit"):
        EncodingRecipe.for_modality("rgb").check_native(np.zeros((4, 4), np.uint8))


def test_bad_recipe_options_are_user_errors():
    with pytest.raises(UserError):
        EncodingRecipe.for_modality("depth", depth_range_m=(3.0, 1.0))
    with pytest.raises(UserError):
        EncodingRecipe.for_modality("nir", channels="hha")
    with pytest.raises(UserError):
        EncodingRecipe.for_modality("sonar")
