"""The resumable state of a training run: saved after every epoch beside its output, gone when it completes.

`OUT.xmt-state` holds what the loop needs to go on exactly where it stopped (models, optimisers,
schedulers, scalers, every RNG state, the method's own state, the selection and the log so far) and a
fingerprint of the options and inputs that made it, so that `--resume` with anything else is refused.
It is written to a temporary, fsynced and renamed, so a kill mid-write leaves the previous epoch's state.
The file is one line, `xmt-state FORMAT SHA256`, then the torch.save bytes that SHA256 covers, checked before
anything in it is used: a changed byte is refused, never resumed from.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import signal
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from xmt.engine.distributed import is_main
from xmt.engine.hashing import input_identity
from xmt.engine.outputs import fsync_folder
from xmt.errors import RunFailure, UserError

STATE_SUFFIX = ".xmt-state"
STATE_FORMAT = 2  # 2: under a sha256 (1, unchecked, is refused: start again with --force)
_MAGIC = b"xmt-state"
_TMP_TAG = ".xmt-tmp-"

_kept: "RunState | None" = None  # the state the last interrupted run left, for the CLI's last line


def state_path(output: Path) -> Path:
    output = Path(os.path.abspath(output))
    return output.parent / f"{output.name}{STATE_SUFFIX}"


# options a resumed run may change: they do not shape the result (or, --device, only as any rerun would)
RESUME_NEUTRAL = ("resume", "force", "quiet", "json_output", "config", "device", "workers", "stream")


def fingerprint(options: dict, inputs: dict[str, str | Path | None]) -> dict:
    """What a resumed run must share with the run that saved the state: the options that shape the result,
    and the identity (sha256, or a folder's listing) of each input."""
    kept = {k: v for k, v in options.items() if k not in RESUME_NEUTRAL}
    return {"options": json.loads(json.dumps(kept, sort_keys=True, default=str)),
            "inputs": {name: input_identity(path) for name, path in inputs.items()}}


def open_run_state(output: Path, options: dict, inputs: dict[str, str | Path | None], *, resume: bool,
                   force: bool) -> RunState:
    """The run state of the stage writing `output`, checked (see `RunState.check`): call it with the output
    claimed, before any work."""
    state = RunState(output, fingerprint(options, inputs), resume=resume, force=force)
    state.check()
    return state


@contextmanager
def _signals_deferred():
    """Hold Ctrl-C and SIGTERM while the state is written: raised inside torch.save's writer they surface as a
    RuntimeError instead of the interruption they are. The handlers are swapped, not the signal mask, because
    any of torch's threads may take a signal; on leaving, a held signal goes to the usual handler."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    held: list[int] = []
    previous = {s: signal.signal(s, lambda signum, frame: held.append(signum)) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if held:
            signal.raise_signal(held[0])


class RunState:
    """One run's state file. `check()` before any work; `save()` each epoch; `remove()` once the outputs exist."""

    def __init__(self, output: Path, fingerprint: dict, *, resume: bool = False, force: bool = False):
        self.path = state_path(output)
        self.fingerprint = fingerprint
        self.resume = resume
        self.force = force
        self.epoch = 0  # epochs the saved state holds
        self.epochs = 0

    # ---- before the run ---------------------------------------------------------------------------------
    def check(self) -> None:
        if is_main():
            self._sweep()
        exists = self.path.is_file()
        if self.resume and not exists:
            raise UserError(f"--resume: there is no saved state to resume from ({self.path.name} does not exist)",
                            path=self.path.parent)
        if exists and not self.resume:
            if not self.force:
                held = self._describe()
                raise UserError(f"holds the state of an interrupted run{held}: run the same command with --resume "
                                "to finish it, or with --force to start again", path=self.path)
            return
        if self.resume:
            saved = self.load()["fingerprint"]
            differ = _differences(saved, self.fingerprint)
            if differ:
                raise UserError(f"--resume: the saved state was made with other {differ}; resume with the "
                                "same options and inputs, or start again with --force", path=self.path)

    def _describe(self) -> str:
        try:
            state = self.load()
            return f" (epoch {state['epoch']} of {state['epochs']})"
        except UserError:
            return ""

    def load(self) -> dict:
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise UserError(f"cannot be read ({exc.strerror or exc})", path=self.path) from None
        line, _, payload = data.partition(b"\n")
        fields = line.split(b" ")
        if len(fields) != 3 or fields[0] != _MAGIC or fields[1] != str(STATE_FORMAT).encode():
            raise UserError("is not an xmt run state of this version; start again with --force", path=self.path)
        if hashlib.sha256(payload).hexdigest().encode() != fields[2]:
            raise UserError("fails its checksum: the saved state is corrupt (changed after it was written); "
                            "start again with --force", path=self.path)
        try:
            state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
        except Exception as exc:  # a foreign payload under a valid checksum: torch raises many kinds
            raise UserError(f"is not a readable xmt run state ({type(exc).__name__}); start again with --force",
                            path=self.path) from None
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise UserError("is not an xmt run state of this version; start again with --force", path=self.path)
        return state

    # ---- during the run ---------------------------------------------------------------------------------
    def save(self, state: dict) -> None:
        """Write the state atomically (rank 0 only: under torchrun every process holds the same one)."""
        global _kept
        if not is_main():
            return
        state = {"format": STATE_FORMAT, "fingerprint": self.fingerprint, **state}
        tmp = self.path.parent / f".{self.path.name}{_TMP_TAG}{uuid.uuid4().hex[:8]}"
        try:
            # held until the state is renamed into place and recorded: a signal between the two would leave a
            # state on disk that the CLI's last line says was never written
            with _signals_deferred():
                with open(tmp, "wb") as f:
                    buffer = io.BytesIO()
                    torch.save(state, buffer)
                    payload = buffer.getbuffer()
                    f.write(b"%s %d %s\n" % (_MAGIC, STATE_FORMAT, hashlib.sha256(payload).hexdigest().encode()))
                    f.write(payload)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
                fsync_folder(self.path.parent)
                self.epoch, self.epochs = state["epoch"], state["epochs"]
                _kept = self
        finally:
            tmp.unlink(missing_ok=True)

    def __enter__(self) -> "RunState":
        return self

    def __exit__(self, kind, exc, tb) -> None:
        """A run that failed on its own (non-finite weights, a full disk) would only fail again if resumed: its
        state goes. An interrupted or crashed run keeps it."""
        if kind is not None and issubclass(kind, RunFailure):
            self.remove()

    def remove(self) -> None:
        global _kept
        if not is_main():
            return
        self.path.unlink(missing_ok=True)
        if _kept is self:
            _kept = None

    def _sweep(self) -> None:
        """Temporaries of a run killed while it saved its state."""
        for stale in self.path.parent.glob(f".{self.path.name}{_TMP_TAG}*"):
            stale.unlink(missing_ok=True)


def kept_state() -> RunState | None:
    """The state an interrupted or failed run left behind (None when it saved none or completed)."""
    return _kept if _kept is not None and _kept.path.is_file() else None


def _differences(saved: dict, now: dict) -> str:
    names = []
    for part in ("options", "inputs"):
        a, b = saved.get(part, {}), now.get(part, {})
        changed = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        names += [f"{'--' + k.replace('_', '-') if part == 'options' else k}" for k in changed]
    return ("options or inputs: " + ", ".join(names)) if names else ""


# ---- random number generators ------------------------------------------------------------------------------

def rng_state(generator: torch.Generator) -> dict:
    """Every RNG a run draws from, as tensors and plain values (loadable with weights_only)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"generator": generator.get_state(), "torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached]}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(generator: torch.Generator, state: dict) -> None:
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch"])
    random.setstate(_tuples(state["python"]))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _tuples(value):
    return tuple(_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value

