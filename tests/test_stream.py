"""--stream reads TR and TI images a batch at a time: the same batches, the same values, so the same model."""

from __future__ import annotations

import pytest
from safetensors.torch import load_file

from helpers import run_cli


@pytest.mark.slow
@pytest.mark.parametrize("method", ["tgkt", "socket"])
def test_streamed_transfer_is_bit_identical_to_in_memory(method, tiny_synth, tiny_source, tiny_ti, tiny_bridge,
                                                          tmp_path, capsys):
    def args(out):
        extra = ["--translated", tiny_bridge / "translated.h5"] if method == "tgkt" else []
        return ["transfer", "--method", method, "--source-model", tiny_source, "--target-data",
                tiny_synth / "target" / "adapt" / "depth", "--target", "depth", "--ti", tiny_ti, "--out", out,
                "--epochs", "2", "--batch-size", "16", "--device", "cpu", "-q", *extra]

    code, _, err = run_cli(args(tmp_path / "memory.safetensors"), capsys)
    assert code == 0, err
    code, _, err = run_cli(args(tmp_path / "stream.safetensors") + ["--stream"], capsys)
    assert code == 0, err
    a, b = load_file(str(tmp_path / "memory.safetensors")), load_file(str(tmp_path / "stream.safetensors"))
    assert a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a)


def test_streamed_depth_is_still_checked_for_content(tiny_synth, tiny_source, tmp_path, capsys):
    import numpy as np
    from PIL import Image

    blank = tmp_path / "blank"
    blank.mkdir()
    for i in range(4):
        Image.fromarray(np.zeros((32, 32), np.uint16)).save(blank / f"{i}.png")
    code, _, err = run_cli(["transfer", "--method", "shot", "--source-model", tiny_source, "--target-data", blank,
                            "--target", "depth", "--out", tmp_path / "m.safetensors", "--stream", "--device", "cpu",
                            "-q"], capsys)
    assert code == 2 and "holds no valid depth" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_streamed_bridge_is_bit_identical_to_in_memory(tiny_synth, tiny_source, tiny_ti, tmp_path, capsys):
    def args(out):
        return ["bridge", "--source-model", tiny_source, "--ti", tiny_ti, "--target-data",
                tiny_synth / "target" / "adapt" / "depth", "--target", "depth", "--out", out, "--translator", "unet",
                "--translator-arg", "base_channels=8", "--epochs", "2", "--batch-size", "16", "--device", "cpu", "-q"]

    for name, extra in (("memory", []), ("stream", ["--stream"])):
        code, _, err = run_cli(args(tmp_path / name) + extra, capsys)
        assert code == 0, err
    a = load_file(str(tmp_path / "memory" / "translator.safetensors"))
    b = load_file(str(tmp_path / "stream" / "translator.safetensors"))
    assert a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a)
    import h5py
    import numpy as np

    with h5py.File(tmp_path / "memory" / "translated.h5") as m, h5py.File(tmp_path / "stream" / "translated.h5") as t:
        assert np.array_equal(m["images/rgb"][:], t["images/rgb"][:]) and np.array_equal(m["probs"][:], t["probs"][:])
