import pytest
import torch

from xmt.engine.jsonlog import EpochLog
from xmt.engine.loop import NonFiniteLoss, Trainer
from xmt.engine.optim import shot_schedule, shot_sgd
from xmt.errors import UserError


def test_shot_schedule_follows_the_formula():
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = shot_sgd([{"params": [param], "lr": 0.01}])
    schedule = shot_schedule(optimizer, total_steps=100)
    for _ in range(50):
        optimizer.step()
        schedule.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.01 * (1 + 10 * 0.5) ** -0.75)
    assert optimizer.param_groups[0]["nesterov"] and optimizer.param_groups[0]["weight_decay"] == 1e-3


def test_loop_names_the_non_finite_term_and_step():
    weight = torch.nn.Parameter(torch.ones(1))
    optimizer = torch.optim.SGD([weight], lr=0.1)

    def step(epoch, i):
        bad = torch.tensor(float("nan")) if (epoch, i) == (1, 2) else torch.tensor(0.0)
        return (weight ** 2).sum() + bad, {"im": bad}

    trainer = Trainer(torch.device("cpu"), log=EpochLog("test"))
    with pytest.raises(NonFiniteLoss, match=r"epoch 2, step 3: .*im = nan"):
        trainer.fit(epochs=3, steps_per_epoch=4, step=step, optimizer=optimizer)
    assert len(trainer.log.records) == 1  # the first epoch completed and was logged


def test_loop_trains_and_logs_epoch_means():
    torch.manual_seed(0)
    weight = torch.nn.Parameter(torch.tensor([3.0]))
    optimizer = torch.optim.SGD([weight], lr=0.1)
    trainer = Trainer(torch.device("cpu"), log=EpochLog("test"))
    records = trainer.fit(epochs=5, steps_per_epoch=10, optimizer=optimizer,
                          step=lambda e, i: ((weight ** 2).sum(), {"w": weight.detach().sum()}))
    assert [r["epoch"] for r in records] == [1, 2, 3, 4, 5]
    assert records[-1]["loss"] < records[0]["loss"] / 100
    assert {"loss", "w", "lr", "seconds"} <= set(records[0])
