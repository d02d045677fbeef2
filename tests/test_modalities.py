import numpy as np
import pytest
from PIL import Image

from xmt.data.modalities import read_stored, stored_to_native
from xmt.errors import UserError


def decode_image(path, modality, depth_scale_mm=None):
    """One image file in native units, as the readers decode it."""
    return stored_to_native(read_stored(path, modality), modality, depth_scale_mm, path)


def test_16bit_depth_round_trips_millimetres_and_invalid_pixels(tmp_path):
    depth = np.array([[0, 500, 4500], [65535, 1234, 0]], dtype=np.uint16)
    Image.fromarray(depth).save(tmp_path / "d.png")
    decoded = decode_image(tmp_path / "d.png", "depth")
    assert decoded.dtype == np.uint16
    np.testing.assert_array_equal(decoded, depth)


def test_8bit_depth_needs_a_declared_scale(tmp_path):
    Image.fromarray(np.array([[0, 10, 255]], np.uint8)).save(tmp_path / "d8.png")
    with pytest.raises(UserError, match="8-bit depth"):
        decode_image(tmp_path / "d8.png", "depth")
    scaled = decode_image(tmp_path / "d8.png", "depth", depth_scale_mm=20.0)
    np.testing.assert_array_equal(scaled, [[0, 200, 5100]])
    assert scaled.dtype == np.uint16


def test_declared_scale_applies_to_16bit_depth_too(tmp_path):
    Image.fromarray(np.array([[0, 5000]], np.uint16)).save(tmp_path / "tum.png")  # TUM: 5000 units per metre
    np.testing.assert_array_equal(decode_image(tmp_path / "tum.png", "depth", depth_scale_mm=0.2), [[0, 1000]])


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_nir_keeps_its_bit_depth(tmp_path, dtype):
    nir = (np.arange(12).reshape(3, 4) * 1000 % np.iinfo(dtype).max).astype(dtype)
    Image.fromarray(nir).save(tmp_path / "n.png")
    decoded = decode_image(tmp_path / "n.png", "nir")
    assert decoded.dtype == dtype
    np.testing.assert_array_equal(decoded, nir)


def test_grey_saved_as_rgb_is_accepted_for_nir_but_colour_is_not(tmp_path):
    grey = np.repeat(np.arange(12, dtype=np.uint8).reshape(3, 4, 1), 3, axis=2)
    Image.fromarray(grey).save(tmp_path / "grey.png")
    np.testing.assert_array_equal(decode_image(tmp_path / "grey.png", "thermal"), grey[..., 0])
    colour = grey.copy()
    colour[0, 0, 1] = 99
    Image.fromarray(colour).save(tmp_path / "colour.png")
    with pytest.raises(UserError, match="colour image"):
        decode_image(tmp_path / "colour.png", "nir")


def test_rgb_decodes_grey_to_three_channels_and_refuses_16bit(tmp_path):
    Image.fromarray(np.full((2, 2), 7, np.uint8)).save(tmp_path / "g.png")
    assert decode_image(tmp_path / "g.png", "rgb").shape == (2, 2, 3)
    Image.fromarray(np.full((2, 2), 700, np.uint16)).save(tmp_path / "g16.png")
    with pytest.raises(UserError, match="16-bit"):
        decode_image(tmp_path / "g16.png", "rgb")


def test_truncated_and_non_image_files_are_user_errors_naming_the_file(tmp_path):
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(tmp_path / "ok.png")
    data = (tmp_path / "ok.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.png").write_text("not an image")
    for name in ("cut.png", "text.png", "missing.png"):
        with pytest.raises(UserError) as info:
            decode_image(tmp_path / name, "rgb")
        assert name in str(info.value)
