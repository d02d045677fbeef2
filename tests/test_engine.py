import pytest
import torch

from xmt.engine.loop import NonFiniteLoss, Procedure, Selection, Trainer
from xmt.engine.optim import shot_schedule, shot_sgd


def test_shot_schedule_follows_the_formula():
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = shot_sgd([{"params": [param], "lr": 0.01}])
    schedule = shot_schedule(optimizer, total_steps=100)
    for _ in range(50):
        optimizer.step()
        schedule.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.01 * (1 + 10 * 0.5) ** -0.75)
    assert optimizer.param_groups[0]["nesterov"] and optimizer.param_groups[0]["weight_decay"] == 1e-3


class Quadratic(Procedure):
    """The smallest procedure: one weight, loss w^2 (plus `bad` at chosen steps)."""

    def __init__(self, epochs, steps, bad_at=(), start=3.0):
        self.epochs, self.steps_per_epoch, self.bad_at = epochs, steps, set(bad_at)
        self.weight = torch.nn.Parameter(torch.tensor([start]))
        self.module = torch.nn.ParameterList([self.weight])
        self.optimizer = torch.optim.SGD([self.weight], lr=0.1)

    def modules(self):
        return {"model": self.module}

    def optimizers(self):
        return {"sgd": self.optimizer}

    def step(self, epoch, i, loop):
        bad = torch.tensor(float("nan")) if (epoch, i) in self.bad_at else torch.tensor(0.0)
        return (self.weight ** 2).sum() + bad, {"im": bad, "w": self.weight.detach().sum()}


def test_loop_names_the_non_finite_term_and_step():
    trainer = Trainer(torch.device("cpu"), log_name="test")
    with pytest.raises(NonFiniteLoss, match=r"epoch 2, step 3: loss = nan, im = nan$"):
        trainer.fit(Quadratic(3, 4, bad_at=[(1, 2), (1, 3)]))
    assert len(trainer.log.records) == 1  # the first epoch completed and was logged


def test_loop_names_a_non_finite_term_within_a_logging_interval():
    trainer = Trainer(torch.device("cpu"), log_name="test", log_every=5)
    with pytest.raises(NonFiniteLoss, match=r"epoch 1, step 7: loss = nan, im = nan$"):
        trainer.fit(Quadratic(1, 20, bad_at=[(0, 6)]))


def test_loop_trains_and_logs_epoch_means():
    trainer = Trainer(torch.device("cpu"), log_name="test")
    procedure = Quadratic(5, 10)
    fitted = trainer.fit(procedure)
    records = fitted.log
    assert [r["epoch"] for r in records] == [1, 2, 3, 4, 5]
    assert records[-1]["loss"] < records[0]["loss"] / 100
    assert {"loss", "w", "lr", "seconds"} <= set(records[0])
    # epoch means: the first epoch's w is the mean of w over its steps, w_{t+1} = 0.8 w_t from 3
    assert records[0]["w"] == pytest.approx(sum(3.0 * 0.8 ** t for t in range(10)) / 10)
    assert fitted.selected_epoch == 5 and fitted.selected_value is None


def test_selection_keeps_the_best_epoch_by_its_key():
    class Peaked(Quadratic):
        selection = Selection("score", "max")

        def end_epoch(self, epoch, loop):
            return {"score": [0.1, 0.9, 0.3][epoch]}

    procedure = Peaked(3, 2)
    weights = []
    original = procedure.end_epoch

    def remember(epoch, loop):
        weights.append(procedure.weight.detach().clone())
        return original(epoch, loop)

    procedure.end_epoch = remember
    fitted = Trainer(torch.device("cpu"), log_name="test").fit(procedure)
    assert fitted.selected_epoch == 2 and fitted.selected_value == 0.9
    assert torch.equal(procedure.weight.detach(), weights[1])
