"""No host-device sync per training step: xmt's code reads tensors back to the host only once per logging
interval (and in the per-epoch hooks: snapshots, pseudo-labels, monitoring, the state checkpoint).

On the CPU nothing waits, so the test counts what would wait on a GPU: every call from xmt's own code that
turns a tensor into a Python value or a host array (item, tolist, bool, float, int, index, cpu, numpy)
while the loop runs its steps. Calls made inside torch itself (an optimiser's step counter) are torch's.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

from helpers import run_cli
from xmt.engine import loop as loop_module
from xmt.engine.run_state import RunState

XMT = str(Path(loop_module.__file__).resolve().parents[1])
READS = ("item", "tolist", "__bool__", "__float__", "__int__", "__index__", "cpu", "numpy")
LOG_EVERY = 1000  # larger than any epoch here: one read per epoch

pytestmark = pytest.mark.slow  # each test runs a training stage through its loop


class SyncCounter:
    def __init__(self):
        self.counting = False
        self.calls: list[str] = []
        self.roots = [XMT]  # whose calls count

    @contextmanager
    def paused(self):
        was, self.counting = self.counting, False
        try:
            yield
        finally:
            self.counting = was


@pytest.fixture
def counter(monkeypatch):
    counter = SyncCounter()
    for name in READS:
        original = getattr(torch.Tensor, name)

        def counted(self, *args, __original=original, __name=name, **kwargs):
            caller = sys._getframe(1).f_code.co_filename
            if counter.counting and caller.startswith(tuple(counter.roots)):
                counter.calls.append(f"{__name} at {caller}:{sys._getframe(1).f_lineno}")
            return __original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)

    def pausing(method):
        def wrapped(*args, **kwargs):
            with counter.paused():
                return method(*args, **kwargs)
        return wrapped

    real_fit = loop_module.Trainer.fit

    def fit(self, procedure):
        for hook in ("start_epoch", "end_epoch"):  # per-epoch work may read back
            setattr(procedure, hook, pausing(getattr(procedure, hook)))
        self.log_every = LOG_EVERY
        counter.counting = True
        try:
            return real_fit(self, procedure)
        finally:
            counter.counting = False

    monkeypatch.setattr(loop_module.Trainer, "fit", fit)
    monkeypatch.setattr(RunState, "save", pausing(RunState.save))
    return counter


def epochs_of(log: Path) -> int:
    return len(log.read_text().splitlines())


def assert_one_read_per_epoch(counter: SyncCounter, epochs: int) -> None:
    reads = [c for c in counter.calls if not c.startswith("tolist at") or "engine/loop.py" not in c]
    assert not reads, f"host syncs inside training steps: {reads[:5]}"
    assert len(counter.calls) == epochs  # the epoch's one read of its loss terms


def test_train_source_steps_do_not_sync(counter, pattern_data, tmp_path, capsys):
    out = tmp_path / "s.safetensors"
    code, _, err = run_cli(["train-source", pattern_data["train"], "--out", out, "--backbone", "smallcnn",
                            "--epochs", "2", "--size", "32", "--device", "cpu", "-q"], capsys)
    assert code == 0, err
    assert_one_read_per_epoch(counter, epochs_of(out.with_suffix(".jsonl")))


@pytest.mark.parametrize("method", ["tgkt", "socket", "tent"])
def test_transfer_steps_do_not_sync(counter, method, tiny_synth, tiny_source, tiny_bridge, tiny_ti, tmp_path,
                                    capsys):
    out = tmp_path / f"{method}.safetensors"
    extra = {"tgkt": ["--translated", tiny_bridge / "translated.h5", "--ti", tiny_ti, "--kl-weighting", "confidence",
                      "--confidence", "0.2"],
             "socket": ["--ti", tiny_ti], "tent": []}[method]
    code, _, err = run_cli(["transfer", "--method", method, "--source-model", tiny_source, "--target-data",
                            tiny_synth / "target" / "adapt" / "depth", "--target", "depth", "--out", out,
                            "--epochs", "2", "--batch-size", "16", "--device", "cpu", "-q", *extra], capsys)
    assert code == 0, err
    assert_one_read_per_epoch(counter, 2)


@pytest.mark.parametrize("translator", ["unet", "light"])
def test_bridge_steps_do_not_sync(counter, translator, tiny_synth, tiny_source, tiny_ti, tmp_path, capsys):
    # (the vq translator's dead-code restart decides on the host, once per step: the one known exception)
    code, _, err = run_cli(["bridge", "--source-model", tiny_source, "--ti", tiny_ti, "--target-data",
                            tiny_synth / "target" / "adapt" / "depth", "--target", "depth", "--out",
                            tmp_path / "bridge", "--translator", translator, "--epochs", "2", "--batch-size", "16",
                            "--alpha-bn", "0.1", "--alpha-feat", "0.1", "--device", "cpu", "-q"], capsys)
    assert code == 0, err
    assert_one_read_per_epoch(counter, 2)


def test_the_counter_sees_a_sync_in_a_step(counter, pattern_data, tmp_path, capsys, monkeypatch):
    """The test above can fail: a step that reads its loss back (as the loop once did) is caught."""
    from xmt.methods.source import SourceTraining

    real_step = SourceTraining.step

    def reading_step(self, epoch, i, loop):
        loss, terms = real_step(self, epoch, i, loop)
        float(loss.detach())
        return loss, terms

    monkeypatch.setattr(SourceTraining, "step", reading_step)
    counter.roots.append(__file__)  # the read above stands for one in xmt's code
    code, _, err = run_cli(["train-source", pattern_data["train"], "--out", tmp_path / "s.safetensors",
                            "--backbone", "smallcnn", "--epochs", "1", "--size", "32", "--device", "cpu", "-q"], capsys)
    assert code == 0, err
    with pytest.raises(AssertionError, match="host syncs inside training steps"):
        assert_one_read_per_epoch(counter, 1)
