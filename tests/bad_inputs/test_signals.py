"""A stage stopped by SIGTERM or Ctrl-C mid-run: one line, exit 143 or 130, nothing left behind, and the
same command run again completes (no orphan log or lock blocks it)."""

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
        assert proc.poll() is None, f"the run ended before it claimed its output: {proc.communicate()}"
        assert time.monotonic() < deadline, f"{path} did not appear within {WAIT_S} s"
        time.sleep(0.1)


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
        _wait_for(out_dir / f".{out.name}.xmt-lock", proc)  # claimed: training is under way
        time.sleep(1.0)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err
    last = [line for line in err.splitlines() if line.strip()][-1]
    assert last.startswith(f"xmt: {word}; nothing was written"), err
    assert "Traceback" not in err
    assert changes(before, snapshot(pattern_data["train"], out_dir)) == {"added": [], "removed": [], "changed": []}

    again = subprocess.run(_train_source(pattern_data["train"], out, epochs=1) + ["-q"], capture_output=True,
                           text=True, timeout=WAIT_S, cwd=Path(__file__).resolve().parents[2])
    assert again.returncode == 0, again.stderr
    assert sorted(os.listdir(out_dir)) == ["source.jsonl", "source.safetensors"]
