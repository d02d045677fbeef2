"""--precision bf16 runs every training stage end to end on the CPU: train-source, bridge (its discriminator
steps outside autocast, in fp32, through its own scaler) and TGKT, and what they write is finite fp32."""

from __future__ import annotations

import json

import pytest
from safetensors.torch import load_file

from helpers import TINY_SIZE, run_cli

pytestmark = pytest.mark.slow  # three training stages end to end


def test_bf16_end_to_end_on_the_cpu(tiny_synth, tiny_ti, tmp_path, capsys):
    bf16 = ["--precision", "bf16", "--device", "cpu", "-q"]
    source = tmp_path / "source.safetensors"
    code, _, err = run_cli(["train-source", tiny_synth / "source" / "rgb", "--out", source, "--backbone", "smallcnn",
                            "--epochs", "2", "--size", TINY_SIZE, *bf16], capsys)
    assert code == 0, err
    adapt = tiny_synth / "target" / "adapt" / "depth"
    code, _, err = run_cli(["bridge", "--source-model", source, "--ti", tiny_ti, "--target-data", adapt, "--target",
                            "depth", "--out", tmp_path / "bridge", "--translator", "unet", "--translator-arg",
                            "base_channels=8", "--epochs", "2", "--batch-size", "16", *bf16], capsys)
    assert code == 0, err
    log = [json.loads(line) for line in (tmp_path / "bridge" / "bridge.jsonl").read_text().splitlines()]
    assert all("d" in record and "g_adv" in record for record in log)  # the discriminator trained
    target = tmp_path / "tgkt.safetensors"
    code, _, err = run_cli(["transfer", "--source-model", source, "--target-data", adapt, "--target", "depth",
                            "--translated", tmp_path / "bridge" / "translated.h5", "--ti", tiny_ti, "--out", target,
                            "--epochs", "2", "--batch-size", "16", *bf16], capsys)
    assert code == 0, err
    for path in (source, tmp_path / "bridge" / "translator.safetensors", target):
        tensors = load_file(str(path))
        floats = [t for t in tensors.values() if t.is_floating_point()]
        assert floats and all(str(t.dtype) == "torch.float32" and t.isfinite().all() for t in floats), path
    code, out, err = run_cli(["evaluate", target, "--data", tiny_synth / "target" / "test" / "depth", "--json"],
                             capsys)
    assert code == 0, err
    assert 0.0 <= json.loads(out)["accuracy"] <= 1.0
