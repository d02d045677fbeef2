"""xmt bridge (TGMB) and xmt translate on a tiny synth set."""

import json

import h5py
import numpy as np
import pytest
import torch
from PIL import Image

from helpers import TINY_SIZE, run_cli
from xmt.data.batches import load_native
from xmt.data.sets.readers import open_image_set
from xmt.engine.checkpoint import read_metadata
from xmt.engine.hashing import sha256_file
from xmt.engine.jsonlog import read_jsonl
from xmt.methods.tgmb import BridgeConfig, BridgeData, train_bridge
from xmt.engine.seeding import seed_everything
from xmt.artifacts import load_model
from xmt.models.translators import build_translator
from xmt.stages.inputs import open_ti_pack, target_recipe

pytestmark = pytest.mark.slow  # every test trains a bridge or reads the tiny_bridge fixture's outputs


def test_bridge_writes_its_four_outputs(tiny_bridge):
    assert sorted(p.name for p in tiny_bridge.iterdir()) == [
        "bridge.jsonl", "preview.png", "translated.h5", "translator.safetensors"]
    with Image.open(tiny_bridge / "preview.png") as preview:
        assert preview.width > 3 * TINY_SIZE and preview.height > TINY_SIZE


@pytest.mark.xfail(strict=False, reason="fails on a clean copy of the previous main too, with this machine's package "
                   "set (pillow 13, numpy 2.4): the tiny bridge's held-out L_rec is 0.92 of identity's, not < 0.5; "
                   "issue 11 (a bridge the source model can read) owns the fix")
def test_bridge_lowers_heldout_reconstruction_well_below_replicating_the_target(tiny_bridge):
    log = read_jsonl(tiny_bridge / "bridge.jsonl")
    assert len(log) == 8
    last = log[-1]
    assert last["val_rec"] < 0.5 * last["identity_val_rec"]
    assert last["val_psnr"] > last["identity_val_psnr"] + 3
    assert last["val_rec"] < log[0]["val_rec"]
    for key in ("tr_mean_entropy", "tr_marginal_entropy", "val_source_agreement", "val_source_kappa", "im", "d", "g_adv"):
        assert key in last


def test_translated_pack_has_one_entry_per_tr_image_in_order_with_provenance(tiny_bridge, tiny_synth, tiny_source):
    tr = open_image_set(tiny_synth / "target" / "adapt" / "depth", "depth")
    with h5py.File(tiny_bridge / "translated.h5") as f:
        assert f["images/rgb"].shape == (len(tr), 3, TINY_SIZE, TINY_SIZE)
        assert f["images/rgb"].dtype == np.uint8
        assert [p.decode() for p in f["paths/rgb"][:]] == tr.paths
        assert f["index"][:].tolist() == list(range(len(tr)))
        probs = f["probs"][:]
        assert probs.shape == (len(tr), 10) and np.allclose(probs.sum(1), 1, atol=1e-5)
        assert f["features"].shape == (len(tr), 256)
        provenance = json.loads(f.attrs["provenance"])["inputs"]
    assert provenance["source_model"]["sha256"] == sha256_file(tiny_source)
    assert provenance["translator"]["sha256"] == sha256_file(tiny_bridge / "translator.safetensors")
    assert provenance["target_data"]["sha256_paths"] == tr.fingerprint()
    meta = read_metadata(tiny_bridge / "translator.safetensors")
    assert meta["kind"] == "translator" and meta["modality"] == "depth"
    assert meta["provenance"]["inputs"]["source_model"]["sha256"] == sha256_file(tiny_source)
    assert "sha256" in meta["provenance"]["inputs"]["ti"]
    # the kept (last) translator's held-out TI figures, for the teacher guard: the last round's, on 10% of the pairs
    check = provenance["translator"]["holdout_check"]
    assert check == meta["config"]["holdout_check"]
    last = read_jsonl(tiny_bridge / "bridge.jsonl")[-1]
    assert check["source_agreement"] == pytest.approx(last["val_source_agreement"])
    assert check["source_kappa"] == pytest.approx(last["val_source_kappa"])
    with h5py.File(meta["provenance"]["inputs"]["ti"]["path"]) as f:
        assert check["pairs"] == round(0.1 * len(f["labels"]))


def test_stored_probabilities_are_the_source_model_on_the_stored_images(tiny_bridge, tiny_source, capsys):
    code, out, _ = run_cli(["evaluate", tiny_source, "--data", tiny_bridge / "translated.h5", "--json", "-q"], capsys)
    assert code == 0
    with h5py.File(tiny_bridge / "translated.h5") as f:
        stored_accuracy = np.mean(f["probs"][:].argmax(1) == f["labels"][:])
    assert json.loads(out)["accuracy"] == pytest.approx(stored_accuracy)


def test_translate_reproduces_the_bridge_translations_exactly(tiny_bridge, tiny_source, tiny_synth, tmp_path, capsys):
    out = tmp_path / "again.h5"
    code, stdout, err = run_cli(["translate", "--translator", tiny_bridge / "translator.safetensors",
                                 "--source-model", tiny_source, "--data", tiny_synth / "target" / "adapt" / "depth",
                                 "--out", out, "-q"], capsys)
    assert code == 0, err
    assert stdout.strip() == str(out)
    with h5py.File(tiny_bridge / "translated.h5") as a, h5py.File(out) as b:
        for key in ("images/rgb", "probs", "features", "labels", "paths/rgb"):
            np.testing.assert_array_equal(a[key][:], b[key][:])
        # the translator's held-out figures travel with every pack it makes
        made_by = [json.loads(f.attrs["provenance"])["inputs"]["translator"] for f in (a, b)]
    assert made_by[0]["holdout_check"] == made_by[1]["holdout_check"] and made_by[1]["holdout_check"]["pairs"] > 0


@pytest.mark.parametrize("translator, args", [("light", []), ("vq", ["base_channels=8", "embed_dim=16",
                                                                       "codebook_size=32"])])
def test_every_translator_runs_through_the_cli_with_every_loss(translator, args, tiny_synth, tiny_source, tiny_ti,
                                                                tmp_path, capsys):
    out = tmp_path / translator
    extra = [a for arg in args for a in ("--translator-arg", arg)]
    code, _, err = run_cli(["bridge", "--source-model", tiny_source, "--ti", tiny_ti, "--target-data",
                            tiny_synth / "target" / "test" / "depth", "--out", out, "--translator", translator,
                            *extra, "--epochs", "1", "--alpha-bn", "0.1", "--alpha-feat", "0.1", "-q"], capsys)
    assert code == 0, err
    last = read_jsonl(out / "bridge.jsonl")[-1]
    assert {"rec", "d", "im", "bn", "feat"} <= set(last)
    if translator == "vq":
        assert 0 < last["t_codebook_usage"] <= 1 and "vq" in last


def test_gradients_reach_the_translator_and_never_the_source_model(tiny_source, tiny_ti, tiny_synth):
    source = load_model(tiny_source)
    before = {k: v.clone() for k, v in source.model.state_dict().items()}
    rgb_set, depth_set = open_ti_pack(tiny_ti, "depth", TINY_SIZE)
    tr_set = open_image_set(tiny_synth / "target" / "adapt" / "depth", "depth")
    recipe = target_recipe("depth", depth_set, TINY_SIZE, (0.0, 10.0))
    data = BridgeData(load_native(rgb_set, source.recipe), load_native(depth_set, recipe),
                      load_native(tr_set, recipe), source.recipe, recipe)
    config = BridgeConfig(translator="light", epochs=1, batch_size=16, alpha_d=0.1, alpha_im=1.0, alpha_bn=0.1,
                          alpha_feat=0.1)
    seed_everything(config.seed)  # as train_bridge does before it builds the translator
    initial = build_translator("light").state_dict()
    result = train_bridge(source.model, data, config, torch.device("cpu"))
    after = source.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # weights and BN statistics, bit for bit
    assert not source.model.training
    assert all(p.grad is None for p in source.model.parameters())
    trained = result.translator.state_dict()
    assert any(not torch.equal(initial[k], trained[k]) for k in initial if initial[k].is_floating_point())


@pytest.mark.parametrize("options", [{}, {"d_layers": 2, "d_norm": "batch", "d_spectral_norm": True}])
def test_the_bridge_builds_the_discriminator_its_options_ask_for(tiny_source, tiny_ti, options):
    from torch.nn.utils import parametrize
    from xmt.methods.tgmb import Bridge

    source = load_model(tiny_source)
    rgb_set, depth_set = open_ti_pack(tiny_ti, "depth", TINY_SIZE)
    recipe = target_recipe("depth", depth_set, TINY_SIZE, (0.0, 10.0))
    data = BridgeData(load_native(rgb_set, source.recipe), load_native(depth_set, recipe),
                      load_native(depth_set, recipe), source.recipe, recipe)
    config = BridgeConfig(translator="light", **options)
    bridge = Bridge(source.model, data, config, torch.device("cpu"), torch.Generator().manual_seed(0))
    convs = [m for m in bridge.discriminator.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == config.d_layers + 2
    assert all(parametrize.is_parametrized(c) for c in convs) == config.d_spectral_norm
    norms = {type(m).__name__ for m in bridge.discriminator.modules()} & {"InstanceNorm2d", "BatchNorm2d"}
    assert norms == {"batch": {"BatchNorm2d"}, "instance": {"InstanceNorm2d"}}[config.d_norm]


def _bridge_args(source, ti, data, out):
    return ["bridge", "--source-model", source, "--ti", ti, "--target-data", data, "--target", "depth",
            "--out", out, "--epochs", "1", "--translator", "light"]


def _assert_one_line_error(code, err, *needles):
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], err


def test_bridge_bad_inputs(tiny_bridge, tiny_source, tiny_ti, tiny_synth, tmp_path, capsys):
    adapt = tiny_synth / "target" / "adapt" / "depth"
    out = tmp_path / "out"
    translator = tiny_bridge / "translator.safetensors"
    code, _, err = run_cli(_bridge_args(translator, tiny_ti, adapt, out), capsys)
    _assert_one_line_error(code, err, "translator checkpoint; expected source-model")
    nir_ti = tmp_path / "nir.h5"
    assert run_cli(["prepare-ti", "--format", "synth", "--root", tiny_synth, "--modality", "nir", "--size",
                    TINY_SIZE, "--out", nir_ti, "-q"], capsys)[0] == 0
    code, _, err = run_cli(_bridge_args(tiny_source, nir_ti, adapt, out), capsys)
    _assert_one_line_error(code, err, "nir.h5", "expected rgb paired with depth")
    code, _, err = run_cli(_bridge_args(tiny_source, tiny_ti, tiny_synth / "target" / "adapt" / "nir", out), capsys)
    _assert_one_line_error(code, err, "8-bit depth")
    big = tmp_path / "big.h5"
    assert run_cli(["pack", adapt, "--modality", "depth", "--size", "48", "--out", big, "-q"], capsys)[0] == 0
    code, _, err = run_cli(_bridge_args(tiny_source, tiny_ti, big, out), capsys)
    _assert_one_line_error(code, err, "big.h5", "48x48", "--size 32")
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(_bridge_args(tiny_source, tiny_ti, tmp_path / "empty", out), capsys)
    _assert_one_line_error(code, err, "empty", "no images")
    code, _, err = run_cli([*_bridge_args(tiny_source, tiny_ti, adapt, out), "--translator", "gan9000"], capsys)
    _assert_one_line_error(code, err, "unknown translator")
    assert not out.exists()


def test_a_non_finite_loss_stops_bridge_naming_step_and_term(tiny_source, tiny_ti, tiny_synth, tmp_path, capsys):
    out = tmp_path / "out"
    code, _, err = run_cli([*_bridge_args(tiny_source, tiny_ti, tiny_synth / "target" / "adapt" / "depth", out),
                            "--lr", "1e38", "--d-lr", "1e38", "-q"], capsys)
    assert code == 1 and "non-finite loss at epoch 1, step" in err
    assert not out.exists() and list(tmp_path.iterdir()) == []
