"""train-source -> evaluate -> predict -> inspect through the CLI, and its handling of bad input."""

import csv
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import run_cli
from xmt.artifacts import load_model


@pytest.mark.slow
def test_trained_source_model_is_well_above_chance(source_model, pattern_data, capsys):
    code, out, _ = run_cli(["evaluate", source_model, "--data", pattern_data["test"], "--json", "-q"], capsys)
    assert code == 0
    metrics = json.loads(out)
    assert metrics["accuracy"] >= 0.8  # chance is 1/3
    assert metrics["classes"] == ["checker", "hstripes", "vstripes"]
    assert sum(metrics["support"].values()) == 45
    loaded = load_model(source_model)
    assert loaded.meta["kind"] == "source-model" and loaded.meta["config"]["backbone"] == "smallcnn"
    assert loaded.meta["provenance"]["inputs"]["data"]["count"] == 120
    assert source_model.with_suffix(".jsonl").is_file()


def test_evaluate_writes_metrics_file_and_refuses_to_overwrite(source_model, pattern_data, tmp_path, capsys):
    out = tmp_path / "metrics.json"
    code, stdout, _ = run_cli(["evaluate", source_model, "--data", pattern_data["test"], "--out", out, "-q"], capsys)
    assert code == 0 and stdout.strip() == str(out)
    assert json.loads(out.read_text())["count"] == 45
    code, _, err = run_cli(["evaluate", source_model, "--data", pattern_data["test"], "--out", out, "-q"], capsys)
    assert code == 2 and "--force" in err


def test_compare_prints_one_table_for_several_models(source_model, pattern_data, capsys):
    code, out, err = run_cli(["evaluate", "--compare", source_model, source_model, "--data", pattern_data["test"],
                              "--json"], capsys)
    assert code == 0 and len(json.loads(out)["results"]) == 2
    assert "mean per-class" in err


def test_predict_writes_csv_rows_for_every_image(source_model, pattern_data, capsys):
    code, out, _ = run_cli(["predict", source_model, pattern_data["test"] / "checker", "-q"], capsys)
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 15 and set(rows[0]) == {"path", "label", "confidence"}
    assert sum(r["label"] == "checker" for r in rows) >= 10
    assert all(0 <= float(r["confidence"]) <= 1 for r in rows)


def test_inspect_shows_kind_classes_and_provenance(source_model, capsys):
    code, out, _ = run_cli(["inspect", source_model], capsys)
    assert code == 0 and "kind source-model" in out and "checker, hstripes, vstripes" in out
    assert f"made with: torch {torch.__version__}, " in out  # and the CPU threads: the weights depend on them
    code, out, _ = run_cli(["inspect", source_model, "--json"], capsys)
    info = json.loads(out)
    assert info["shapes"]["head.parametrizations.weight.original1"] == [3, 256]


def test_config_file_sets_options_and_is_recorded(pattern_data, tmp_path, capsys):
    config = tmp_path / "train.toml"
    config.write_text('[train-source]\nbackbone = "smallcnn"\nepochs = 1\nsize = 16\nbatch-size = 16\n')
    out = tmp_path / "m.safetensors"
    code, _, _ = run_cli(["train-source", pattern_data["train"], "--out", out, "--config", config, "-q",
                          "--epochs", "2"], capsys)
    assert code == 0
    meta = load_model(out).meta
    assert meta["config"]["size"] == 16 and meta["config"]["batch_size"] == 16
    assert meta["config"]["epochs"] == 2  # the command line wins over the file
    config.write_text("epochz = 3\n")
    code, _, err = run_cli(["train-source", pattern_data["train"], "--config", config], capsys)
    assert code == 2 and "epochz" in err


def _one_line_error(code, err, *needles):
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], err


def test_bad_inputs_exit_2_with_one_line_naming_the_problem(source_model, pattern_data, tmp_path, capsys):
    out = tmp_path / "x.safetensors"
    _one_line_error(*run_cli(["train-source", tmp_path / "nope", "--out", out], capsys)[::2], "nope", "no such")
    (tmp_path / "empty").mkdir()
    _one_line_error(*run_cli(["train-source", tmp_path / "empty", "--out", out], capsys)[::2], "empty", "no images")
    _one_line_error(*run_cli(["train-source", pattern_data["train"], "--out", out, "--backbone", "vgg"],
                             capsys)[::2], "unknown backbone")
    other = tmp_path / "other" / "dogs"
    other.mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(other / "0.png")
    _one_line_error(*run_cli(["evaluate", source_model, "--data", tmp_path / "other"], capsys)[::2],
                    "other", "not among the model's")
    source_model_copy = tmp_path / "cut.safetensors"
    source_model_copy.write_bytes(source_model.read_bytes()[:5000])
    _one_line_error(*run_cli(["evaluate", source_model_copy, "--data", pattern_data["test"]], capsys)[::2],
                    "cut.safetensors")
    (tmp_path / "junk.png").write_text("junk")
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "junk.png").write_text("junk")
    _one_line_error(*run_cli(["predict", source_model, tmp_path / "flat"], capsys)[::2], "junk.png", "cannot read")
    _one_line_error(*run_cli(["train-source", pattern_data["train"], "--out", source_model], capsys)[::2],
                    "already exists")
    assert not out.exists()


def test_a_run_that_fails_leaves_no_output(pattern_data, tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    code, _, err = run_cli(["train-source", pattern_data["train"], "--out", out, "--backbone", "smallcnn",
                            "--epochs", "1", "--lr", "1e30", "--size", "16", "-q"], capsys)
    assert code == 1 and "non-finite loss at epoch 1" in err
    assert list(tmp_path.iterdir()) == []
