"""The one training loop every stage runs: epochs of steps, checks, progress, selection, logs and resumable state.

A `Procedure` (train-source, bridge, each transfer method) declares what it trains: its modules,
optimisers and schedules, its per-epoch hooks and its step. The loop owns everything else: precision
(autocast and one GradScaler per optimiser), the generator for data order and augmentation, the choice
of the kept epoch (`Selection`), the per-epoch log, and the state saved after every epoch so that a
killed run resumes bit-identically (`engine/run_state.py`).

Nothing in a step waits for the device: loss terms are summed on it and read once per logging
interval, where a non-finite term is still reported with its first bad epoch, step and name.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import torch

from xmt.engine.console import progress_bar
from xmt.engine.device import autocast
from xmt.engine.distributed import average_buffers, average_gradients, shard, world_size
from xmt.engine.jsonlog import EpochLog
from xmt.engine.run_state import RunState, rng_state, set_rng_state
from xmt.engine.seeding import seed_everything
from xmt.errors import RunFailure, UserError

Terms = dict[str, torch.Tensor]
LOG_EVERY = 50  # steps between reads of the loss terms (progress note and finiteness check)


class NonFiniteLoss(RunFailure):
    pass


@dataclass(frozen=True)
class Selection:
    """Which epoch's weights of `module` the run keeps: the best by a record key (ties: the later epoch), or
    the last when `key` is None or an epoch's record lacks it."""

    key: str | None = None
    mode: str = "max"
    module: str = "model"

    def better(self, value: float, best: float | None) -> bool:
        if best is None:
            return True
        return value >= best if self.mode == "max" else value <= best


class Procedure:
    """A training procedure: what it trains and how one step goes. See the module docstring."""

    name: str = "train"
    epochs: int = 1
    steps_per_epoch: int = 1
    selection: Selection = Selection()

    def modules(self) -> dict[str, torch.nn.Module]:
        """The modules that train (their state is saved each epoch)."""
        raise NotImplementedError

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Every optimiser; the first steps on the loss `step` returns, others through `loop.backward_step`."""
        raise NotImplementedError

    def schedulers(self) -> dict[str, torch.optim.lr_scheduler.LRScheduler]:
        """Schedules stepped once per step."""
        return {}

    def start_epoch(self, epoch: int, loop: "Trainer") -> dict | None:
        return None

    def step(self, epoch: int, i: int, loop: "Trainer") -> tuple[torch.Tensor, Terms]:
        raise NotImplementedError

    def end_epoch(self, epoch: int, loop: "Trainer") -> dict | None:
        return None

    def state_dict(self) -> dict:
        """The procedure's own state between epochs (pseudo-labels...), beyond modules and optimisers."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


@dataclass
class FitResult:
    log: list[dict]
    selected_epoch: int
    selected_value: float | None  # the selection key's value at that epoch (None: the last epoch was kept)


class StepTerms:
    """Loss terms of the steps since the epoch began, summed on the device (float64, as Python floats add)."""

    def __init__(self):
        self.names: list[str] | None = None
        self.sums: torch.Tensor | None = None
        self.first_bad: torch.Tensor | None = None  # per term: the first step whose value was not finite, or -1
        self.bad_values: torch.Tensor | None = None  # and that value
        self.steps = 0

    def add(self, step: int, terms: Terms) -> None:
        values = torch.stack([t.detach().reshape(()).double() for t in terms.values()])
        if self.names is None:
            self.names = list(terms)
            self.sums = torch.zeros_like(values)
            self.first_bad = torch.full(values.shape, -1, dtype=torch.long, device=values.device)
            self.bad_values = torch.zeros_like(values)
        elif list(terms) != self.names:
            raise ValueError(f"loss terms changed within an epoch: {self.names} -> {list(terms)}")
        bad = ~torch.isfinite(values)
        first = bad & (self.first_bad < 0)
        self.bad_values = torch.where(first, values, self.bad_values)
        self.first_bad = torch.where(first, torch.full_like(self.first_bad, step), self.first_bad)
        self.sums += torch.where(bad, torch.zeros_like(values), values)
        self.steps += 1

    def read(self, epoch: int) -> dict[str, float]:
        """Epoch means so far: the one host sync of a logging interval. Raises at the first non-finite term."""
        if self.names is None:
            return {}
        n = len(self.names)
        sums = self.sums
        if world_size() > 1:  # the log shows means over the global batches, not over this process's shards
            sums = sums.clone()
            torch.distributed.all_reduce(sums)
            sums /= world_size()
        values = torch.cat([sums, self.first_bad.double(), self.bad_values]).tolist()
        sums, first_bad, bad_values = values[:n], [int(v) for v in values[n:2 * n]], values[2 * n:]
        if any(s >= 0 for s in first_bad):
            step = min(s for s in first_bad if s >= 0)
            named = ", ".join(f"{name} = {v:g}" for name, s, v in zip(self.names, first_bad, bad_values) if s == step)
            raise NonFiniteLoss(f"non-finite loss at epoch {epoch + 1}, step {step + 1}: {named}")
        return {name: total / max(1, self.steps) for name, total in zip(self.names, sums)}


class Trainer:
    """Runs a `Procedure`. Create it before the procedure's models: it seeds every RNG, as runs always have."""

    def __init__(self, device: torch.device, precision: str = "fp32", *, seed: int = 0, log_name: str = "train",
                 run_state: RunState | None = None, log_every: int = LOG_EVERY):
        self.device = device
        self.precision = precision
        self.generator = seed_everything(seed)
        self.log = EpochLog(log_name)
        self.run_state = run_state
        self.log_every = log_every
        self.scalers: dict[str, torch.amp.GradScaler] = {}
        self.world = world_size()
        self._optimizers: dict[str, torch.optim.Optimizer] = {}
        autocast(device, precision)  # validates the combination early

    def autocast(self):
        return autocast(self.device, self.precision)

    def backward_step(self, loss: torch.Tensor, optimizer: str) -> None:
        """Backward pass and step of one optimiser, through its own scaler (fp16), so two never share one."""
        scaler, chosen = self.scalers[optimizer], self._optimizers[optimizer]
        chosen.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if self.world > 1:
            average_gradients([p for group in chosen.param_groups for p in group["params"]])
        scaler.step(chosen)
        scaler.update()

    def shard(self, batch: torch.Tensor) -> torch.Tensor:
        """This process's rows of a global batch (all of them with one process)."""
        return shard(batch)

    # ---- the loop ---------------------------------------------------------------------------------------
    def fit(self, procedure: Procedure) -> FitResult:
        self._optimizers = procedure.optimizers()
        main = next(iter(self._optimizers))
        self.scalers = {name: torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")
                        for name in self._optimizers}
        schedulers = list(procedure.schedulers().values())
        selection = procedure.selection
        self._best: dict = {"value": None, "epoch": 0, "state": None}
        start = self._restore(procedure) if self.run_state is not None and self.run_state.resume else 0
        steps = procedure.steps_per_epoch
        with progress_bar(procedure.name, procedure.epochs * steps) as bar:
            bar.advance(start * steps)
            for epoch in range(start, procedure.epochs):
                started = time.perf_counter()
                record: dict = {"epoch": epoch + 1}
                record.update(procedure.start_epoch(epoch, self) or {})
                terms = StepTerms()
                for i in range(steps):
                    loss, step_terms = procedure.step(epoch, i, self)
                    terms.add(i, {"loss": loss.detach(), **step_terms})
                    self.backward_step(loss, main)
                    for scheduler in schedulers:
                        scheduler.step()
                    bar.advance()
                    if (i + 1) % self.log_every == 0 and i + 1 < steps:
                        bar.note(f"loss {terms.read(epoch)['loss']:.3f}")
                record.update(terms.read(epoch))
                if self.world > 1:
                    for module in procedure.modules().values():
                        average_buffers(module)
                record["lr"] = max(group["lr"] for group in self._optimizers[main].param_groups)
                record.update(procedure.end_epoch(epoch, self) or {})
                self._select(procedure, selection, epoch, record)
                record["seconds"] = round(time.perf_counter() - started, 3)
                self.log.write(record)
                if self.run_state is not None:
                    self.run_state.save(self._state(procedure, epoch + 1))
        selected_epoch, value = procedure.epochs, None
        if self._best["state"] is not None:
            procedure.modules()[selection.module].load_state_dict(self._best["state"])
            selected_epoch, value = self._best["epoch"], self._best["value"]
        return FitResult(self.log.records, selected_epoch, value)

    def _select(self, procedure: Procedure, selection: Selection, epoch: int, record: dict) -> None:
        if selection.key is None or selection.key not in record:
            return
        value = record[selection.key]
        if selection.better(value, self._best["value"]):
            module = procedure.modules()[selection.module]
            self._best = {"value": value, "epoch": epoch + 1, "state": copy.deepcopy(module.state_dict())}

    # ---- resumable state --------------------------------------------------------------------------------
    def _state(self, procedure: Procedure, epochs_done: int) -> dict:
        return {"epoch": epochs_done, "epochs": procedure.epochs,
                "modules": {k: m.state_dict() for k, m in procedure.modules().items()},
                "optimizers": {k: o.state_dict() for k, o in self._optimizers.items()},
                "schedulers": {k: s.state_dict() for k, s in procedure.schedulers().items()},
                "scalers": {k: s.state_dict() for k, s in self.scalers.items()},
                "rng": rng_state(self.generator), "procedure": procedure.state_dict(),
                "best": self._best, "log": self.log.records}

    def _restore(self, procedure: Procedure) -> int:
        state = self.run_state.load()
        for key, module in procedure.modules().items():
            module.load_state_dict(state["modules"][key])
        for key, optimizer in self._optimizers.items():
            optimizer.load_state_dict(state["optimizers"][key])
        for key, scheduler in procedure.schedulers().items():
            scheduler.load_state_dict(state["schedulers"][key])
        for key, scaler in self.scalers.items():
            scaler.load_state_dict(state["scalers"][key])
        set_rng_state(self.generator, state["rng"])
        try:
            procedure.load_state_dict(state["procedure"])
        except UserError as error:  # a state the procedure cannot take: the message names the state file
            raise (UserError(str(error), path=self.run_state.path) if error.path is None else error) from None
        self._best = state["best"]
        self.log.records = list(state["log"])
        if not 0 <= state["epoch"] <= procedure.epochs:
            raise RunFailure(f"{self.run_state.path}: saved after epoch {state['epoch']} of a "
                             f"{procedure.epochs}-epoch run")
        return int(state["epoch"])
