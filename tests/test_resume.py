"""`--resume`: a run killed at any moment, resumed, ends exactly where an uninterrupted run ends.

The killed runs are real processes that die abruptly (os._exit, as kill -9 leaves files) right after the
state of epoch k is saved, or halfway through writing it; the same command with --resume must then write
bit-identical weights and the same log (timings aside) as an uninterrupted run, on CPU in fp32.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from safetensors.torch import load_file

from helpers import run_cli
from xmt.engine.jsonlog import read_jsonl
from xmt.engine.run_state import state_path

PY = sys.executable

DIE = textwrap.dedent("""
    import os, sys
    import torch
    import xmt.engine.run_state as run_state
    how, epoch, args = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    real_save, real_torch_save = run_state.RunState.save, torch.save

    def half_written(obj, f):
        real_torch_save(obj, f)
        f.flush()
        f.truncate(f.tell() // 2)
        os._exit(9)

    def save(self, state):
        if how == "mid-write" and state["epoch"] == epoch:
            run_state.torch.save = half_written
        real_save(self, state)
        if how == "after" and state["epoch"] == epoch:
            os._exit(9)

    run_state.RunState.save = save
    from xmt.cli import main
    sys.exit(main(args))
""")


def die(how: str, epoch: int, args: list, patch: str = "") -> None:
    """Run `xmt ARGS` in a process that dies after (or while) saving the state of `epoch`; `patch`, code run
    first, changes what that process saves."""
    done = subprocess.run([PY, "-c", patch + DIE, how, str(epoch), *map(str, args)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 9, done.stderr


def weights(path):
    return load_file(str(path))


def same_weights(a, b) -> bool:
    wa, wb = weights(a), weights(b)
    return wa.keys() == wb.keys() and all(wa[k].dtype == wb[k].dtype and wa[k].equal(wb[k]) for k in wa)


def log_without_timings(path):
    return [{k: v for k, v in record.items() if k != "seconds"} for record in read_jsonl(path)]


def train_source_args(data, out, epochs=4):
    return ["train-source", data, "--out", out, "--backbone", "smallcnn", "--epochs", epochs, "--size", "32",
            "--device", "cpu", "-q"]


@pytest.fixture(scope="module")
def uninterrupted_source(pattern_data, tmp_path_factory):
    from xmt.cli import main

    out = tmp_path_factory.mktemp("whole") / "source.safetensors"
    assert main([str(a) for a in train_source_args(pattern_data["train"], out)]) == 0
    assert not state_path(out).exists()  # removed once the stage completed
    return out


@pytest.mark.slow
@pytest.mark.parametrize("how, epoch", [("after", 1), ("after", 2), ("after", 4), ("mid-write", 3)])
def test_train_source_killed_and_resumed_is_bit_identical(how, epoch, pattern_data, uninterrupted_source, tmp_path,
                                                          capsys):
    out = tmp_path / "source.safetensors"
    args = train_source_args(pattern_data["train"], out)
    die(how, epoch, args)
    assert not out.exists() and state_path(out).exists()
    code, _, err = run_cli(args + ["--resume"], capsys)
    assert code == 0, err
    assert same_weights(out, uninterrupted_source)
    assert log_without_timings(out.with_suffix(".jsonl")) == log_without_timings(
        uninterrupted_source.with_suffix(".jsonl"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source.jsonl", "source.safetensors"]


@pytest.mark.slow
def test_an_interrupted_run_is_not_silently_restarted_or_resumed_with_other_options(pattern_data, tmp_path, capsys):
    out = tmp_path / "source.safetensors"
    args = train_source_args(pattern_data["train"], out)
    die("after", 1, args)
    code, _, err = run_cli(args, capsys)  # no --resume: the saved progress is not thrown away unasked
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "interrupted run (epoch 1 of 4)" in err and "--resume" in err and "--force" in err
    code, _, err = run_cli(args[:-1] + ["--lr", "0.02", "-q", "--resume"], capsys)
    assert code == 2 and "--lr" in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and state_path(out).exists()
    code, _, err = run_cli(args + ["--force"], capsys)  # start again
    assert code == 0, err
    assert not state_path(out).exists()


def test_resume_without_a_saved_state_is_refused(pattern_data, tmp_path, capsys):
    out = tmp_path / "source.safetensors"
    code, _, err = run_cli(train_source_args(pattern_data["train"], out) + ["--resume"], capsys)
    assert code == 2 and "no saved state" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def bridge_args(tiny_synth, tiny_source, tiny_ti, out):
    return ["bridge", "--source-model", tiny_source, "--ti", tiny_ti, "--target-data",
            tiny_synth / "target" / "adapt" / "depth", "--target", "depth", "--out", out, "--translator", "unet",
            "--translator-arg", "base_channels=8", "--epochs", "3", "--batch-size", "16", "--save-epochs",
            "--device", "cpu", "-q"]


@pytest.mark.slow
def test_bridge_killed_and_resumed_is_bit_identical(tiny_synth, tiny_source, tiny_ti, tmp_path, capsys):
    """With --save-epochs too: the rounds trained before the kill are written from the saved state."""
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    code, _, err = run_cli(bridge_args(tiny_synth, tiny_source, tiny_ti, whole), capsys)
    assert code == 0, err
    die("after", 2, bridge_args(tiny_synth, tiny_source, tiny_ti, resumed))
    assert not resumed.exists() and state_path(resumed).exists()
    code, _, err = run_cli(bridge_args(tiny_synth, tiny_source, tiny_ti, resumed) + ["--resume"], capsys)
    assert code == 0, err
    assert same_weights(resumed / "translator.safetensors", whole / "translator.safetensors")
    assert log_without_timings(resumed / "bridge.jsonl") == log_without_timings(whole / "bridge.jsonl")
    rounds = sorted(p.name for p in (whole / "epochs").iterdir())
    assert len(rounds) == 3 and sorted(p.name for p in (resumed / "epochs").iterdir()) == rounds
    assert all(same_weights(resumed / "epochs" / name, whole / "epochs" / name) for name in rounds)
    assert not state_path(resumed).exists()


@pytest.mark.slow
def test_a_bridge_state_without_the_rounds_translators_is_refused_not_resumed_short(tiny_synth, tiny_source, tiny_ti,
                                                                                    tmp_path, capsys):
    """A state an older xmt wrote (no rounds' translators in it) would write only the rounds after the resume."""
    out = tmp_path / "resumed"
    args = bridge_args(tiny_synth, tiny_source, tiny_ti, out)
    die("after", 2, args, patch="import xmt.methods.tgmb as tgmb\ntgmb.Bridge.state_dict = lambda self: {}\n")
    code, _, err = run_cli(args + ["--resume"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert str(state_path(out)) in err and "--save-epochs" in err and "--force" in err
    assert state_path(out).exists() and not out.exists()


@pytest.mark.slow
@pytest.mark.parametrize("method", ["tgkt", "shot"])
def test_transfer_killed_and_resumed_is_bit_identical(method, tiny_synth, tiny_source, tiny_ti, tiny_bridge,
                                                      tmp_path, capsys):
    def args(out):
        extra = ["--translated", tiny_bridge / "translated.h5", "--ti", tiny_ti] if method == "tgkt" else []
        return ["transfer", "--method", method, "--source-model", tiny_source, "--target-data",
                tiny_synth / "target" / "adapt" / "depth", "--target", "depth", "--out", out, "--epochs", "3",
                "--batch-size", "16", "--select", "im", "--device", "cpu", "-q", *extra]

    whole, resumed = tmp_path / "whole.safetensors", tmp_path / "resumed.safetensors"
    code, _, err = run_cli(args(whole), capsys)
    assert code == 0, err
    die("after", 2, args(resumed))
    code, _, err = run_cli(args(resumed) + ["--resume"], capsys)
    assert code == 0, err
    assert same_weights(resumed, whole)
    assert log_without_timings(resumed.with_suffix(".jsonl")) == log_without_timings(whole.with_suffix(".jsonl"))
    assert not state_path(resumed).exists()


def test_a_signal_during_the_state_write_arrives_once_the_write_is_done():
    # raised inside torch.save's writer, Ctrl-C would surface as a RuntimeError and exit 1 instead of 130
    import signal

    from xmt.engine.run_state import _signals_deferred

    reached = []
    # Python's own Ctrl-C handler, whatever this process inherited (a shell's background job ignores SIGINT)
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            with _signals_deferred():
                signal.raise_signal(signal.SIGINT)  # handled before it returns
                reached.append("the rest of the write")
    finally:
        signal.signal(signal.SIGINT, inherited)
    assert reached == ["the rest of the write"]


def test_a_signal_as_the_state_is_renamed_into_place_still_names_the_state(tmp_path, monkeypatch):
    # a SIGTERM between the rename and the bookkeeping once made the CLI say "nothing was written" while the
    # state file sat on disk (seen as a flaky tests/bad_inputs/test_signals.py)
    import os
    import signal

    from xmt.engine import run_state

    class Stop(BaseException):
        pass

    def stop(signum, frame):
        raise Stop()

    real_replace = os.replace

    def replace_then_signal(src, dst):
        real_replace(src, dst)
        signal.raise_signal(signal.SIGTERM)  # the signal lands the moment the state is in place

    state = run_state.RunState(tmp_path / "model.safetensors", {"options": {}, "inputs": {}})
    monkeypatch.setattr(run_state.os, "replace", replace_then_signal)
    inherited = signal.signal(signal.SIGTERM, stop)
    try:
        with pytest.raises(Stop):
            state.save({"epoch": 3, "epochs": 10})
    finally:
        signal.signal(signal.SIGTERM, inherited)
    kept = run_state.kept_state()
    assert kept is state and kept.path.is_file() and (kept.epoch, kept.epochs) == (3, 10)
    assert sorted(os.listdir(tmp_path)) == ["model.safetensors.xmt-state"]  # no temporary left
    state.remove()
