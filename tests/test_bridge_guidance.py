"""The bridge's source-model guidance (L_perc, L_kl), paired augmentation, discriminator options, label-free
selection and --save-epochs (issue 11), and the declared-settings machinery its options come from (issue 12)."""

import json
import math
import subprocess
import sys
from dataclasses import dataclass

import h5py
import pytest
import torch
from torch import nn

from helpers import EXAMPLES, run_cli
from xmt.bounds import NON_NEGATIVE
from xmt.engine.checkpoint import read_metadata
from xmt.engine.jsonlog import read_jsonl
from xmt.errors import UserError
from xmt.losses import perceptual_distance
from xmt.methods.tgmb import BridgeConfig
from xmt.models.bn_stats import evenly_spaced, record_feature_maps
from xmt.settings import changed_from_default, check_declared, declared, declared_values, setting



# ---- L_perc and the feature maps it reads ---------------------------------------------------------------------
def test_perceptual_distance_is_the_mean_over_layers_of_each_layers_mean_squared_difference():
    g = torch.Generator().manual_seed(0)
    fake = [torch.randn(2, 3, 4, 4, generator=g), torch.randn(2, 5, 2, 2, generator=g)]
    real = [torch.randn(2, 3, 4, 4, generator=g), torch.randn(2, 5, 2, 2, generator=g)]
    by_hand = (((fake[0] - real[0]) ** 2).sum() / 96 + ((fake[1] - real[1]) ** 2).sum() / 40) / 2
    assert perceptual_distance(fake, real).item() == pytest.approx(by_hand.item(), rel=1e-6)
    assert perceptual_distance(real, real).item() == 0.0


def test_perceptual_distance_refuses_unpaired_maps():
    with pytest.raises(ValueError):
        perceptual_distance([torch.zeros(1, 2, 2, 2)], [])
    with pytest.raises(ValueError):
        perceptual_distance([torch.zeros(1, 2, 2, 2)], [torch.zeros(1, 3, 2, 2)])


def test_evenly_spaced_keeps_the_first_and_last_layer():
    assert evenly_spaced(list(range(10)), 4) == [0, 3, 6, 9]
    assert evenly_spaced(list(range(3)), 4) == [0, 1, 2]
    assert evenly_spaced(list(range(5)), 1) == [4]


def test_record_feature_maps_returns_the_chosen_batchnorm_outputs_and_unhooks():
    net = nn.Sequential(*[m for _ in range(5) for m in (nn.Conv2d(2, 2, 1), nn.BatchNorm2d(2))]).eval()
    x = torch.randn(3, 2, 4, 4)
    with record_feature_maps(net, 3) as maps:
        out = net(x)
    assert len(maps) == 3 and torch.equal(maps[-1], out)  # the last BN's output is the network's output
    assert torch.equal(maps[0], net[1](net[0](x)))
    net(x)
    assert len(maps) == 3  # hooks removed on leaving the block


# ---- declared settings --------------------------------------------------------------------------------------
@dataclass
class _Config:
    weight: float = setting(1.0, "A weight.", bounds=NON_NEGATIVE)
    mode: str = setting("a", "A mode.", choices=("a", "b"))
    internal: int = 3


def test_declared_settings_check_values_and_report_the_option():
    assert [s.name for s in declared(_Config)] == ["weight", "mode"]
    assert declared_values(_Config(2.0, "b")) == {"weight": 2.0, "mode": "b"}
    check_declared(_Config())
    with pytest.raises(UserError, match="--weight: nan is not a finite number"):
        check_declared(_Config(weight=math.nan))
    with pytest.raises(UserError, match="--mode 'c': expected one of a, b"):
        check_declared(_Config(mode="c"))
    assert [s.name for s in changed_from_default([_Config], {"weight": 1.0, "mode": "b"})] == ["mode"]


def test_every_bridge_option_comes_from_the_config(capsys):
    code, out, _ = run_cli(["bridge", "--help"], capsys)
    assert code == 0
    for s in declared(BridgeConfig):
        assert s.flag in out.replace("--no-", "--"), s.flag


# ---- the bridge through the CLI --------------------------------------------------------------------------------
def _bridge(tiny_source, tiny_ti, tiny_synth, out, *extra):
    return ["bridge", "--source-model", tiny_source, "--ti", tiny_ti, "--target-data",
            tiny_synth / "target" / "adapt" / "depth", "--target", "depth", "--out", out, "--translator", "unet",
            "--translator-arg", "base_channels=8", "--batch-size", "16", "--lr", "1e-3", "--device", "cpu", "-q",
            *map(str, extra)]


@pytest.mark.slow
def test_guided_bridge_logs_its_terms_selects_by_a_heldout_criterion_and_keeps_every_epoch(
        tiny_source, tiny_ti, tiny_synth, tmp_path, capsys):
    out = tmp_path / "bridge"
    code, _, err = run_cli(_bridge(tiny_source, tiny_ti, tiny_synth, out, "--epochs", 3, "--alpha-perc", 1,
                                   "--alpha-kl", 1, "--augment", "--d-layers", 1, "--d-norm", "none",
                                   "--d-spectral-norm", "--select", "val-kl", "--save-epochs"), capsys)
    assert code == 0, err
    log = read_jsonl(out / "bridge.jsonl")
    steps = [r for r in log if "perc" in r]
    assert steps and all(r["perc"] > 0 and r["kl"] >= 0 for r in steps)
    epochs = [r for r in log if "val_kl" in r]
    assert len(epochs) == 3 and all(r["val_perc"] > 0 for r in epochs)
    saved = sorted(p.name for p in (out / "epochs").iterdir())
    assert saved == ["translator-e001.safetensors", "translator-e002.safetensors", "translator-e003.safetensors"]
    best = min(range(3), key=lambda i: (epochs[i]["val_kl"], -i))  # ties: the later epoch
    kept = read_metadata(out / "translator.safetensors")
    assert kept["config"]["select"] == "val-kl" and kept["config"]["d_layers"] == 1
    assert kept["config"]["d_spectral_norm"] is True
    from safetensors.torch import load_file
    assert all(torch.equal(a, b) for a, b in zip(load_file(out / "translator.safetensors").values(),
                                                 load_file(out / "epochs" / saved[best]).values()))

    # score_epochs.py scores each of them on labelled images: the kept epoch's score is the kept translator's
    scores = tmp_path / "epochs.json"
    test = tiny_synth / "target" / "test" / "depth"
    subprocess.run([sys.executable, str(EXAMPLES / "score_epochs.py"), str(out), "--source-model", str(tiny_source),
                    "--data", str(test), "--out", str(scores)], check=True)
    scored = json.loads(scores.read_text())["epochs"]
    assert [e["epoch"] for e in scored] == [1, 2, 3] and all(0 <= e["test_accuracy"] <= 1 for e in scored)
    assert scored[best]["val_kl"] == epochs[best]["val_kl"]
    code, _, err = run_cli(["translate", "--translator", out / "translator.safetensors", "--source-model",
                            tiny_source, "--data", test, "--out", tmp_path / "test.h5", "-q"], capsys)
    assert code == 0, err
    with h5py.File(tmp_path / "test.h5") as f:
        kept_accuracy = float((f["probs"][:].argmax(1) == f["labels"][:]).mean())
    assert scored[best]["test_accuracy"] == kept_accuracy


@pytest.mark.slow
@pytest.mark.parametrize("criterion, key", [("tr-diversity", "tr_marginal_entropy"),
                                            ("val-agreement", "val_source_agreement")])
def test_bridge_keeps_the_epoch_a_higher_is_better_criterion_ranks_first(tiny_source, tiny_ti, tiny_synth, tmp_path,
                                                                          capsys, criterion, key):
    out = tmp_path / "bridge"
    code, _, err = run_cli(_bridge(tiny_source, tiny_ti, tiny_synth, out, "--epochs", 3, "--select", criterion,
                                   "--save-epochs"), capsys)
    assert code == 0, err
    epochs = [r for r in read_jsonl(out / "bridge.jsonl") if key in r]
    assert len(epochs) == 3
    best = max(range(3), key=lambda i: (epochs[i][key], i))  # ties: the later epoch
    from safetensors.torch import load_file
    kept = load_file(out / "translator.safetensors")
    chosen = load_file(out / "epochs" / f"translator-e{best + 1:03d}.safetensors")
    assert all(torch.equal(kept[name], chosen[name]) for name in kept)


def test_bridge_refuses_a_discriminator_larger_than_its_images_and_unknown_choices(
        tiny_source, tiny_ti, tiny_synth, tmp_path, capsys):
    for extra, needle in ((["--d-layers", 4], "--d-layers 4: the discriminator needs images of at least 48 pixels"),
                          (["--d-norm", "group"], "--d-norm 'group': expected one of instance, batch, none"),
                          (["--select", "best"], "--select 'best': expected one of last"),
                          (["--d-layers", 9], "--d-layers")):
        code, _, err = run_cli(_bridge(tiny_source, tiny_ti, tiny_synth, tmp_path / "out", *extra), capsys)
        assert code == 2 and needle in err and "Traceback" not in err, err
        assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_bridge_length_is_in_steps_whatever_the_number_of_ti_pairs(tiny_source, tiny_ti, tiny_synth, tmp_path,
                                                                    capsys):
    # 80 TI pairs, 8 held out: 72 train, 5 batches of 16 a pass. 7 steps in rounds of 3 are 3 rounds of 3 steps,
    # each a line of the log, drawing its batches through fresh permutations of the pairs.
    out = tmp_path / "bridge"
    code, _, err = run_cli(_bridge(tiny_source, tiny_ti, tiny_synth, out, "--steps", 7, "--eval-every", 3,
                                   "--alpha-d", 0), capsys)
    assert code == 0, err
    records = [r for r in read_jsonl(out / "bridge.jsonl") if "epoch" in r]
    assert [(r["epoch"], r["step"]) for r in records] == [(1, 3), (2, 6), (3, 9)]
    # --epochs instead: passes over the TI pairs, 5 steps each
    code, _, err = run_cli(_bridge(tiny_source, tiny_ti, tiny_synth, out, "--epochs", 2, "--alpha-d", 0, "--force"),
                           capsys)
    assert code == 0, err
    assert [(r["epoch"], r["step"]) for r in read_jsonl(out / "bridge.jsonl") if "epoch" in r] == [(1, 5), (2, 10)]
