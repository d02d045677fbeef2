"""Shared fixtures: small generated image folders in the layouts xmt reads, and models trained on them once per
session. Helper functions and constants live in helpers.py (`from helpers import ...`); tests never import this
file."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import TINY_SIZE, write_pattern_folder

from xmt.cli import main


@pytest.fixture(scope="session")
def pattern_data(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("patterns")
    return {"train": write_pattern_folder(root / "train", 40, seed=1),
            "test": write_pattern_folder(root / "test", 15, seed=2)}


@pytest.fixture(scope="session")
def source_model(pattern_data, tmp_path_factory) -> Path:
    """A small source model trained once per session through the CLI."""
    out = tmp_path_factory.mktemp("source") / "source.safetensors"
    code = main(["train-source", str(pattern_data["train"]), "--out", str(out), "--backbone", "smallcnn",
                 "--epochs", "6", "--size", "32", "--quiet", "--device", "cpu"])
    assert code == 0
    return out


# ---- a tiny embedded benchmark, run once per session through the CLI ------------------------------
# synth, source model and TI pack cost seconds; tiny_bridge runs every stage up to the bridge, so a test that uses it
# is end to end: mark it @pytest.mark.slow (`pytest -m "not slow"` is the fast subset).

@pytest.fixture(scope="session")
def tiny_synth(tmp_path_factory) -> Path:
    """xmt synth at 32x32: 10 TR classes (12 source, 8 adapt, 4 test scenes each), 8 TI classes x 10 pairs."""
    out = tmp_path_factory.mktemp("synth") / "bench"
    code = main(["synth", str(out), "--size", str(TINY_SIZE), "--source-per-class", "12", "--ti-per-class", "10",
                 "--adapt-per-class", "8", "--test-per-class", "4", "--seed", "3", "-q"])
    assert code == 0
    return out


@pytest.fixture(scope="session")
def tiny_source(tiny_synth, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny-source") / "source.safetensors"
    code = main(["train-source", str(tiny_synth / "source" / "rgb"), "--out", str(out), "--backbone", "smallcnn",
                 "--epochs", "4", "--size", str(TINY_SIZE), "--device", "cpu", "-q"])
    assert code == 0
    return out


@pytest.fixture(scope="session")
def tiny_ti(tiny_synth, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny-ti") / "ti.h5"
    code = main(["prepare-ti", "--format", "synth", "--root", str(tiny_synth), "--modality", "depth",
                 "--size", str(TINY_SIZE), "--out", str(out), "-q"])
    assert code == 0
    return out


@pytest.fixture(scope="session")
def tiny_bridge(tiny_synth, tiny_source, tiny_ti, tmp_path_factory) -> Path:
    """A short bridge run with a small U-Net; its folder holds translator.safetensors, translated.h5..."""
    out = tmp_path_factory.mktemp("tiny-bridge") / "bridge"
    code = main(["bridge", "--source-model", str(tiny_source), "--ti", str(tiny_ti), "--target-data",
                 str(tiny_synth / "target" / "adapt" / "depth"), "--target", "depth", "--out", str(out),
                 "--translator", "unet", "--translator-arg", "base_channels=8", "--epochs", "8",
                 "--batch-size", "16", "--lr", "1e-3", "--device", "cpu", "-q"])
    assert code == 0
    return out
