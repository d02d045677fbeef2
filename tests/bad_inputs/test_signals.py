"""A stage stopped by SIGTERM or Ctrl-C mid-run: one line, exit 143 or 130, no output and nothing else left
behind but the run's state for --resume (which the line names), and the command run again completes (no
orphan log or lock blocks it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import changes, snapshot

PY = sys.executable
WAIT_S = 180  # generous: CI machines under load start torch slowly; the test ends as soon as the run does

SLOW = pytest.mark.slow  # training runs in subprocesses, stopped by signals and run again


def _default_signals() -> None:
    # A shell's background job ignores SIGINT, and a child inherits that; Python turns SIGINT into
    # KeyboardInterrupt only when it starts with the default action.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _train_source(data: Path, out: Path, epochs: int) -> list[str]:
    return [PY, "-m", "xmt", "train-source", str(data), "--out", str(out), "--backbone", "smallcnn",
            "--epochs", str(epochs), "--size", "32", "--device", "cpu"]


def _wait_for(path: Path, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + WAIT_S
    while not path.exists():
        assert proc.poll() is None, f"the run ended before it saved a state: {proc.communicate()}"
        assert time.monotonic() < deadline, f"{path} did not appear within {WAIT_S} s"
        time.sleep(0.1)


@SLOW
@pytest.mark.parametrize("signum, code, word", [(signal.SIGTERM, 143, "terminated"),
                                                (signal.SIGINT, 130, "interrupted")])
def test_a_signal_mid_training_leaves_nothing_and_the_rerun_completes(pattern_data, tmp_path, signum, code, word):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "source.safetensors"
    before = snapshot(pattern_data["train"], out_dir)
    proc = subprocess.Popen(_train_source(pattern_data["train"], out, epochs=100_000), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_default_signals,
                            cwd=Path(__file__).resolve().parents[2])
    try:
        _wait_for(out_dir / f"{out.name}.xmt-state", proc)  # an epoch is done and training goes on
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err
    last = [line for line in err.splitlines() if line.strip()][-1]
    state = out_dir / "source.safetensors.xmt-state"
    assert last.startswith(f"xmt: {word}; no output was written; the run's state after epoch "), err
    assert str(state) in last and "--resume" in last
    assert "Traceback" not in err
    assert changes(before, snapshot(pattern_data["train"], out_dir)) == {"added": [str(state)], "removed": [],
                                                                          "changed": []}

    again = subprocess.run(_train_source(pattern_data["train"], out, epochs=1) + ["-q", "--force"], capture_output=True,
                           text=True, timeout=WAIT_S, cwd=Path(__file__).resolve().parents[2])
    assert again.returncode == 0, again.stderr
    assert sorted(os.listdir(out_dir)) == ["source.jsonl", "source.safetensors"]


EXIT_SIGNAL = """
import atexit, os, signal, sys, time
import xmt.cli
atexit.register(lambda: (os.kill(os.getpid(), signal.SIG), time.sleep(0.3)))  # while the interpreter exits
sys.argv = ["xmt", *sys.argv[1:]]
xmt.cli.run()
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_after_the_outputs_are_written_changes_nothing(signum, tmp_path):
    """The command has completed, its outputs are whole: a signal in the second the interpreter takes to exit
    neither turns exit 0 into 143 or 130 without a word, nor touches the outputs."""
    from PIL import Image

    for c in ("a", "b"):
        (tmp_path / "d" / c).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (8, 8), (60 * i, 90, 30)).save(tmp_path / "d" / c / f"{i}.png")
    script = EXIT_SIGNAL.replace("signal.SIG)", f"signal.{signal.Signals(signum).name})")
    proc = subprocess.run([PY, "-c", script, "pack", str(tmp_path / "d"), "--modality", "rgb", "--out",
                           str(tmp_path / "p.h5"), "-q"], capture_output=True, text=True, timeout=WAIT_S,
                          preexec_fn=_default_signals)
    assert proc.returncode == 0 and proc.stderr == "", (proc.returncode, proc.stderr)
    assert proc.stdout.strip().endswith("p.h5") and (tmp_path / "p.h5").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "p.h5"]


def test_an_interruption_after_the_outputs_are_written_says_they_are_whole(tmp_path):
    """A signal in the moment between the commit and the command's return: the message names the outputs as
    written, not 'nothing was written'."""
    from xmt.cli import _what_was_kept, main
    from xmt.engine.output_kinds import JSONL_LOG
    from xmt.engine.outputs import Output, claim_outputs, forget_committed

    forget_committed()
    out = tmp_path / "log.jsonl"
    with claim_outputs([Output(out, JSONL_LOG)]) as claim:
        claim.temporary(out).write_text("")
    assert out.exists() and _what_was_kept() == f"it came after the outputs were written, whole: {out}"
    assert main(["--version"]) == 0 and "nothing was written" in _what_was_kept()  # a new command forgets them
