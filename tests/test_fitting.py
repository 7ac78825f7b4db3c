"""The one training loop (advtransfer.fitting) that every trainer of the workflow uses."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advtransfer.fitting import fit_model


def _problem(n=10, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=gen)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1
    return x, y


def _fit(model, x, y, *, scores, select, **kw):
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    seen = []

    def batch_loss(idx, generator):
        seen.append(idx.clone())
        return ((model(x[idx]).squeeze(1) - y[idx]) ** 2).mean()

    calls = iter(scores)
    history = fit_model(model, n_train=len(x), batch_loss=batch_loss,
                        validate=lambda: next(calls), select=select, optimizer=opt,
                        progress=False, **kw)
    return history, seen


def test_best_epoch_is_one_based_and_its_weights_are_restored():
    x, y = _problem()
    model = nn.Linear(3, 1)
    states = []
    scores = [{"loss": v} for v in (3.0, 1.0, 2.0, 1.0)]  # best: epoch 2 (first of the ties)

    def select(m):
        states.append({k: v.clone() for k, v in model.state_dict().items()})
        return -m["loss"]

    history, _ = _fit(model, x, y, scores=scores, select=select, epochs=4, batch_size=4, seed=0)
    assert history["best_epoch"] == 2
    assert history["val_loss"] == [3.0, 1.0, 2.0, 1.0]
    assert history["val_loss"][history["best_epoch"] - 1] == history["best_val_loss"] == 1.0
    for key, value in model.state_dict().items():
        assert torch.equal(value, states[1][key])
    assert not model.training


def test_lone_last_sample_dropped_only_when_asked():
    x, y = _problem(n=9)
    scores = [{"loss": 1.0}]
    _, seen = _fit(nn.Linear(3, 1), x, y, scores=scores, select=lambda m: 0, epochs=1,
                   batch_size=4, seed=0)
    assert [len(i) for i in seen] == [4, 4]
    _, seen = _fit(nn.Linear(3, 1), x, y, scores=scores, select=lambda m: 0, epochs=1,
                   batch_size=4, seed=0, drop_lone_batch=False)
    assert [len(i) for i in seen] == [4, 4, 1]
    assert sorted(torch.cat(seen).tolist()) == list(range(9))


def test_same_seed_same_weights_and_order():
    x, y = _problem()
    runs = []
    for _ in range(2):
        torch.manual_seed(5)
        model = nn.Linear(3, 1)
        history, seen = _fit(model, x, y, scores=[{"loss": 1.0}] * 3, select=lambda m: 0,
                             epochs=3, batch_size=3, seed=11)
        runs.append((model.weight.detach().clone(), [s.tolist() for s in seen]))
    assert torch.equal(runs[0][0], runs[1][0]) and runs[0][1] == runs[1][1]


def test_scheduler_steps_per_batch_or_per_epoch():
    x, y = _problem(n=8)
    for step, expected in (("epoch", 2), ("batch", 4)):
        model = nn.Linear(3, 1)
        opt = torch.optim.SGD(model.parameters(), lr=1.0)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        fit_model(model, n_train=8, batch_loss=lambda i, g: model(x[i]).pow(2).mean(),
                  validate=lambda: {"loss": 0.0}, select=lambda m: 0, optimizer=opt,
                  epochs=2, batch_size=4, seed=0, scheduler=sched, scheduler_step=step,
                  progress=False)
        assert opt.param_groups[0]["lr"] == pytest.approx(0.5**expected)


def test_non_finite_loss_and_bad_arguments_raise():
    x, y = _problem()
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(FloatingPointError, match="epoch 1"):
        fit_model(model, n_train=10, batch_loss=lambda i, g: torch.tensor(float("nan")),
                  validate=dict, select=lambda m: 0, optimizer=opt, epochs=1, batch_size=5,
                  seed=0, progress=False)
    for kw, match in (({"epochs": 0}, "epochs"), ({"batch_size": 0}, "batch_size"),
                      ({"scheduler_step": "step"}, "scheduler_step")):
        args = {"epochs": 1, "batch_size": 5, **kw}
        with pytest.raises(ValueError, match=match):
            fit_model(model, n_train=10, batch_loss=lambda i, g: model(x[i]).mean(),
                      validate=dict, select=lambda m: 0, optimizer=opt, seed=0,
                      progress=False, **args)
