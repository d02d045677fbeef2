"""Bad option values and bad --config files: refused at parse time (exit 2, one line), before any work.

None of these needs a trained model or real data: the command fails before it opens an input.
"""

from __future__ import annotations

import math

import pytest
from harness import assert_refused, run_in_process

from xmt.errors import UserError

NAN = "nan"

# the inputs never exist: a parse-time refusal must come before any input is opened
TRANSFER = ["transfer", "--source-model", "src.safetensors", "--target-data", "tr", "--device", "cpu"]
BRIDGE = ["bridge", "--source-model", "src.safetensors", "--ti", "ti.h5", "--target-data", "tr", "--device", "cpu"]
TRAIN = ["train-source", "data", "--device", "cpu"]

# (stage arguments, extra arguments, fragments of the one error line)
OPTION_CASES = [
    # learning rates: > 0 and finite
    (TRANSFER, ["--lr", NAN], ["Invalid value for '--lr'", "nan is not a finite number"]),
    (TRANSFER, ["--lr", "0"], ["'--lr'", "0 is not in the range x > 0"]),
    (TRANSFER, ["--lr", "-0.01"], ["'--lr'", "-0.01 is not in the range x > 0"]),
    (TRANSFER, ["--lr", "inf"], ["'--lr'", "inf is not a finite number"]),
    (TRANSFER, ["--lr", "fast"], ["'--lr'", "'fast' is not a valid number"]),
    (TRAIN, ["--lr", NAN], ["xmt train-source: error:", "'--lr'", "not a finite number"]),
    (TRAIN, ["--lr", "0"], ["'--lr'", "not in the range x > 0"]),
    (BRIDGE, ["--lr", NAN], ["xmt bridge: error:", "'--lr'", "not a finite number"]),
    (BRIDGE, ["--d-lr", "0"], ["'--d-lr'", "not in the range x > 0"]),
    # loss weights: >= 0 and finite
    (BRIDGE, ["--alpha-rec", NAN], ["'--alpha-rec'", "not a finite number"]),
    (BRIDGE, ["--alpha-d", "-1"], ["'--alpha-d'", "-1 is not in the range x >= 0"]),
    (BRIDGE, ["--alpha-im", "inf"], ["'--alpha-im'", "not a finite number"]),
    (BRIDGE, ["--alpha-bn", "-0.5"], ["'--alpha-bn'", "x >= 0"]),
    (BRIDGE, ["--alpha-feat", NAN], ["'--alpha-feat'", "not a finite number"]),
    (TRANSFER, ["--beta-kl", NAN], ["'--beta-kl'", "not a finite number"]),
    (TRANSFER, ["--beta-f", "-1"], ["'--beta-f'", "x >= 0"]),
    (TRANSFER, ["--beta-self", "inf"], ["'--beta-self'", "not a finite number"]),
    (TRANSFER, ["--beta-im", "-2"], ["'--beta-im'", "x >= 0"]),
    (TRANSFER, ["--beta-bn", NAN], ["'--beta-bn'", "not a finite number"]),
    # other ranges
    (TRANSFER, ["--temperature", "0"], ["'--temperature'", "x > 0"]),
    (TRANSFER, ["--temperature", NAN], ["'--temperature'", "not a finite number"]),
    (TRANSFER, ["--confidence", "1.5"], ["'--confidence'", "0 <= x <= 1"]),
    (TRANSFER, ["--confidence", NAN], ["'--confidence'", "not a finite number"]),
    (TRANSFER, ["--weight-decay", "-0.001"], ["'--weight-decay'", "x >= 0"]),
    (TRANSFER, ["--backbone-lr-mult", NAN], ["'--backbone-lr-mult'", "not a finite number"]),
    (TRAIN, ["--label-smoothing", "1"], ["'--label-smoothing'", "0 <= x < 1"]),
    (TRAIN, ["--label-smoothing", NAN], ["'--label-smoothing'", "not a finite number"]),
    (TRAIN, ["--val-fraction", NAN], ["'--val-fraction'", "not a finite number"]),
    (TRAIN, ["--val-fraction", "0.95"], ["'--val-fraction'", "0 <= x <= 0.9"]),
    (BRIDGE, ["--holdout-fraction", "0.6"], ["'--holdout-fraction'", "0 <= x <= 0.5"]),
    (BRIDGE, ["--holdout-fraction", NAN], ["'--holdout-fraction'", "not a finite number"]),
    # depth encoding
    (TRANSFER, ["--depth-scale", "0"], ["'--depth-scale'", "x > 0"]),
    (TRANSFER, ["--depth-scale", "-1"], ["'--depth-scale'", "x > 0"]),
    (TRANSFER, ["--depth-scale", NAN], ["'--depth-scale'", "not a finite number"]),
    (BRIDGE, ["--depth-scale", "inf"], ["'--depth-scale'", "not a finite number"]),
    (TRANSFER, ["--depth-near", "-1"], ["'--depth-near'", "x >= 0"]),
    (TRANSFER, ["--depth-far", NAN], ["'--depth-far'", "not a finite number"]),
    (BRIDGE, ["--depth-far", "0"], ["'--depth-far'", "x > 0"]),
    (TRANSFER, ["--depth-near", "5", "--depth-far", "2"], ["--depth-far 2 must be greater than --depth-near 5"]),
    (BRIDGE, ["--depth-near", "3", "--depth-far", "3"], ["--depth-far 3 must be greater than --depth-near 3"]),
    # integer counts
    (TRANSFER, ["--epochs", "0"], ["'--epochs'", "x >= 1"]),
    (TRAIN, ["--epochs", "1.5"], ["'--epochs'", "'1.5' is not a valid integer"]),
    (BRIDGE, ["--batch-size", "0"], ["'--batch-size'", "x >= 1"]),
    (TRAIN, ["--size", "4"], ["'--size'", "8 <= x <= 4096"]),
    (TRANSFER, ["--seed", "-1"], ["'--seed'", "0 <= x"]),
    (TRANSFER, ["--workers", "-1"], ["'--workers'", "x >= 0"]),
    (["evaluate", "model.safetensors", "--data", "d"], ["--batch-size", "0"], ["xmt evaluate: error:", "x >= 1"]),
    (["predict", "model.safetensors", "d"], ["--batch-size", "-3"], ["xmt predict: error:", "x >= 1"]),
    (["pack", "d", "--modality", "depth", "--out", "p.h5"], ["--size", "0"], ["xmt pack: error:", "'--size'"]),
    (["pack", "d", "--modality", "depth", "--out", "p.h5"], ["--workers", "-1"], ["'--workers'", "x >= 0"]),
    (["pack", "d", "--modality", "depth", "--out", "p.h5"], ["--depth-scale", NAN], ["'--depth-scale'", "finite"]),
    (["prepare-ti", "--pairs", "p.tsv", "--modality", "depth"], ["--size", "2"], ["xmt prepare-ti: error:", "'--size'"]),
    (["translate", "--translator", "t.safetensors", "--source-model", "s.safetensors", "--data", "d"],
     ["--depth-scale", "inf"], ["xmt translate: error:", "not a finite number"]),
    # synth: an empty split (or benchmark) is refused, like a too small size
    (["synth", "bench"], ["--test-per-class", "0"], ["xmt synth: error:", "'--test-per-class'", "x >= 1"]),
    (["synth", "bench"], ["--source-per-class", "0"], ["'--source-per-class'", "x >= 1"]),
    (["synth", "bench"], ["--size", "8"], ["'--size'", "16 <= x <= 4096"]),
    (["synth", "bench"], ["--seed", "-3"], ["'--seed'"]),
    (["synth", "bench"], ["--workers", "0"], ["'--workers'", "x >= 1"]),
    (["synth", "bench"], ["--preview", "sheet.jpg"], ["sheet.jpg", "--preview", ".png"]),
]


def _id(case) -> str:
    stage, extra, _ = case
    return f"{stage[0]}{'_'.join([''] + extra)}"


@pytest.mark.parametrize("stage,extra,fragments", OPTION_CASES, ids=[_id(c) for c in OPTION_CASES])
def test_bad_option_value_is_refused_at_parse_time(stage, extra, fragments, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    outcome = run_in_process([*stage, *extra], capsys, tmp_path)
    assert_refused(outcome, 2, *fragments)


# ---- the same checks reach values from --config ----------------------------------------------

CONFIG_CASES = [
    # (stage, TOML text, fragments)
    (TRANSFER, "lr = nan\n", ["'--lr'", "nan is not a finite number"]),
    (TRANSFER, "[transfer]\nlr = 0.0\n", ["'--lr'", "x > 0"]),
    (TRANSFER, "[transfer]\ntemperature = -inf\n", ["'--temperature'", "not a finite number"]),
    (TRANSFER, "confidence = 2\n", ["'--confidence'", "0 <= x <= 1"]),
    (TRANSFER, "depth-scale = 0\n", ["'--depth-scale'", "x > 0"]),
    (BRIDGE, "[bridge]\nalpha-rec = nan\n", ["'--alpha-rec'", "not a finite number"]),
    (BRIDGE, "[bridge]\nepochs = 1.5\n", ["'--epochs'", "1.5 is not an integer"]),
    (TRAIN, "epochs = true\n", ["'--epochs'", "true where a number is expected"]),
    (TRAIN, "[train-source]\nlabel_smoothing = 1.0\n", ["'--label-smoothing'", "0 <= x < 1"]),
    # tables where values are expected, and the reverse
    (TRANSFER, "transfer = 3\n", ["run.toml", "'transfer' must be a table of options ([transfer]), not a number"]),
    (TRANSFER, "bridge = \"x\"\n", ["run.toml", "'bridge' must be a table"]),
    (TRANSFER, "lr = {a = 1}\n", ["run.toml", "option 'lr' is a table"]),
    (TRANSFER, "[transfer]\nlr = {a = 1}\n", ["run.toml", "option 'lr' in [transfer] is a table"]),
    (TRANSFER, "[transfer.lr]\na = 1\n", ["run.toml", "option 'lr' in [transfer] is a table"]),
    (TRANSFER, "[tarnsfer]\nlr = 0.1\n", ["run.toml", "table [tarnsfer] is a table"]),
    (TRANSFER, "[transfer]\nepochs = [1, 2]\n", ["'--epochs'", "a list where a number is expected"]),
    # already refused before this work: keep it so
    (TRANSFER, "lr = \n", ["run.toml", "not a valid TOML file"]),
    (TRANSFER, "[transfer]\nlearning-rate = 0.1\n", ["run.toml", "unknown option(s) for 'xmt transfer': learning-rate"]),
]


@pytest.mark.parametrize("stage,text,fragments", CONFIG_CASES, ids=[f"{c[0][0]}:{c[1]!r}" for c in CONFIG_CASES])
def test_bad_config_value_is_refused_at_parse_time(stage, text, fragments, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run.toml").write_text(text)
    outcome = run_in_process([*stage, "--config", "run.toml"], capsys, tmp_path)
    assert_refused(outcome, 2, *fragments)


def test_missing_config_file(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    outcome = run_in_process([*TRANSFER, "--config", "absent.toml"], capsys, tmp_path)
    assert_refused(outcome, 2, "absent.toml", "no such config file")


def test_good_config_values_still_pass_the_parse(tmp_path, capsys, monkeypatch):
    """In-range values from the file get through the parse: the run then stops at the missing model."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run.toml").write_text("lr = 1e-3\n[transfer]\nconfidence = 1\nepochs = 2\ndepth-scale = 0.2\n"
                                       "[bridge]\nlr = 5\n")
    outcome = run_in_process([*TRANSFER, "--config", "run.toml"], capsys, tmp_path)
    assert_refused(outcome, 2, "src.safetensors")
    assert "Invalid value" not in outcome.err


# ---- the library's config checks: the same ranges without the CLI ----------------------------

def _library_cases():
    from xmt.data.encoding import EncodingRecipe
    from xmt.data.modalities import depth_to_millimetres
    from xmt.methods.adapt import AdaptConfig
    from xmt.methods.source import SourceConfig
    from xmt.methods.tgkt import TgktObjective
    from xmt.methods.tgmb import BridgeConfig

    import numpy as np

    depth = np.full((2, 2), 10, np.uint8)
    return [
        ("adapt lr nan", lambda: AdaptConfig(lr=math.nan).check(), "--lr"),
        ("adapt lr 0", lambda: AdaptConfig(lr=0.0).check(), "--lr"),
        ("adapt weight decay inf", lambda: AdaptConfig(weight_decay=math.inf).check(), "--weight-decay"),
        ("adapt epochs 0", lambda: AdaptConfig(epochs=0).check(), "--epochs"),
        ("bridge lr nan", lambda: BridgeConfig(lr=math.nan).check(), "--lr"),
        ("bridge d-lr -1", lambda: BridgeConfig(d_lr=-1.0).check(), "--d-lr"),
        ("bridge alpha nan", lambda: BridgeConfig(alpha_rec=math.nan).check(), "alpha-rec"),
        ("bridge holdout 0.7", lambda: BridgeConfig(holdout_fraction=0.7).check(), "--holdout-fraction"),
        ("bridge translator arg", lambda: BridgeConfig(translator_args={"nonsense": 1}).check(), "nonsense"),
        ("source lr nan", lambda: SourceConfig(lr=math.nan).check(), "--lr"),
        ("source smoothing 1", lambda: SourceConfig(label_smoothing=1.0).check(), "--label-smoothing"),
        ("source size 2", lambda: SourceConfig(size=2).check(), "--size"),
        ("tgkt weight nan", lambda: TgktObjective(beta_kl=math.nan), "beta-kl"),
        ("tgkt temperature nan", lambda: TgktObjective(temperature=math.nan), "--temperature"),
        ("tgkt confidence 2", lambda: TgktObjective(confidence=2.0), "--confidence"),
        ("depth scale nan", lambda: depth_to_millimetres(depth, math.nan), "--depth-scale"),
        ("depth scale 0", lambda: depth_to_millimetres(depth, 0.0), "--depth-scale"),
        ("depth range inf", lambda: EncodingRecipe.for_modality("depth", depth_range_m=(0.0, math.inf)), "depth range"),
        ("depth range nan", lambda: EncodingRecipe.for_modality("depth", depth_range_m=(math.nan, 1.0)), "depth range"),
    ]


@pytest.mark.parametrize("index", range(len(_library_cases())), ids=[c[0] for c in _library_cases()])
def test_library_configs_refuse_non_finite_and_out_of_range(index):
    _, call, fragment = _library_cases()[index]
    with pytest.raises(UserError, match=None) as raised:
        call()
    assert fragment in str(raised.value)


def test_library_defaults_pass_their_checks():
    from xmt.methods.adapt import AdaptConfig
    from xmt.methods.source import SourceConfig
    from xmt.methods.tgmb import BridgeConfig

    AdaptConfig().check()
    BridgeConfig().check()
    SourceConfig().check()


def test_synth_config_refuses_an_empty_benchmark():
    from xmt.synth.generate import SynthConfig

    with pytest.raises(ValueError, match="every per-class count is 0"):
        SynthConfig(source_per_class=0, ti_per_class=0, adapt_per_class=0, test_per_class=0).validate()
