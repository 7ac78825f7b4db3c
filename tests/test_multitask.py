"""Tests of advtransfer.tasks.models: task losses, label-free PGD, training, transfer heads, I/O."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from advtransfer.core import attacks
from advtransfer.tasks import models as mt
from advtransfer.tasks.digits import TaskNet


class Dense(nn.Module):
    """A tiny dense-output model (N, 3, 4, 4) -> (N, 2, 4, 4): 1x1 conv."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 2, 1)

    def forward(self, x):
        return self.conv(x)


def tiny_classifier(out_dim: int = 3, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, out_dim))


# ------------------------------------------------------------------------------ losses


def test_per_sample_losses_by_hand():
    out = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    tgt = torch.tensor([[0.0, 0.0], [1.0, -1.0]])
    assert torch.allclose(mt.per_sample_loss(out, tgt, "mse"), torch.tensor([2.5, 1.0]))
    assert torch.allclose(mt.per_sample_loss(out, tgt, "l1"), torch.tensor([1.5, 1.0]))
    ce = mt.per_sample_loss(out, torch.tensor([1, 0]), "ce")
    assert ce[0].item() == pytest.approx(math.log(1 + math.e ** -1))
    assert ce[1].item() == pytest.approx(math.log(2))
    # kl to itself is 0; to a uniform target it is log K - H(q) ... checked against torch
    p = torch.softmax(out, dim=1)
    assert torch.allclose(mt.per_sample_loss(out, p, "kl"), torch.zeros(2), atol=1e-7)
    u = torch.full((2, 2), 0.5)
    ref = torch.nn.functional.kl_div(torch.log_softmax(out, 1), u, reduction="none").sum(1)
    assert torch.allclose(mt.per_sample_loss(out, u, "kl"), ref)


def test_dense_losses_average_over_pixels():
    out = torch.randn(3, 4, 5, 5)
    labels = out.argmax(dim=1)
    flat = out.permute(0, 2, 3, 1).reshape(-1, 4)
    expected = torch.nn.functional.cross_entropy(flat, labels.reshape(-1), reduction="none")
    got = mt.per_sample_loss(out, labels, "ce")
    assert torch.allclose(got, expected.view(3, 25).mean(1))
    assert torch.allclose(mt.label_free_loss(out, out, "l1"), torch.zeros(3))


@pytest.mark.parametrize(
    "kind, target, match",
    [("ce", torch.zeros(2, 2), "shape"), ("mse", torch.zeros(2), "shape"),
     ("hinge", torch.zeros(2, 3), "unknown")],
)
def test_loss_argument_checks(kind, target, match):
    with pytest.raises(ValueError, match=match):
        mt.per_sample_loss(torch.zeros(2, 3), target, kind)


# ------------------------------------------------------------------------------ attack


@pytest.mark.parametrize("kind, loss", [("ce", "ce_clean"), ("mse", "mse_clean")])
def test_task_pgd_equals_pgd_attack(kind, loss):
    model = tiny_classifier()
    x = torch.rand(10, 3, 2, 2)
    ours = mt.task_pgd(model, x, kind=kind, eps=0.1, steps=4, seed=3, batch_size=4)
    theirs = attacks.pgd_attack(model, x, eps=0.1, steps=4, loss=loss, seed=3, batch_size=4)
    assert torch.equal(ours, theirs)


@pytest.mark.parametrize("kind", ["mse", "l1", "ce", "kl"])
def test_task_pgd_stays_in_ball_and_raises_own_loss(kind):
    model = Dense()
    x = torch.rand(8, 3, 4, 4)
    x_adv = mt.task_pgd(model, x, kind=kind, eps=0.05, steps=5, seed=1)
    assert (x_adv - x).abs().max() <= 0.05 + 1e-6
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    start = mt.task_pgd(model, x, kind=kind, eps=0.05, steps=0, seed=1)
    loss_adv = mt.adversarial_task_losses(model, x, x_adv, kind)
    loss_start = mt.adversarial_task_losses(model, x, start, kind)
    assert loss_adv.mean() > loss_start.mean()
    assert torch.equal(mt.task_pgd(model, x, kind=kind, eps=0.0, steps=5), x)
    clean = mt.adversarial_task_losses(model, x, x, kind)
    if kind == "ce":  # cross-entropy to its own argmax is the clean loss, not 0
        out = model(x).detach()
        assert torch.allclose(clean, mt.per_sample_loss(out, out.argmax(1), "ce"))
    else:
        assert torch.allclose(clean, torch.zeros(8), atol=1e-6)


def test_task_pgd_is_deterministic_and_batch_independent():
    model = tiny_classifier()
    x = torch.rand(9, 3, 2, 2)
    a = mt.task_pgd(model, x, kind="kl", eps=0.1, steps=3, seed=5, batch_size=2)
    b = mt.task_pgd(model, x, kind="kl", eps=0.1, steps=3, seed=5, batch_size=9)
    assert torch.allclose(a, b, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"eps": -0.1}, "eps"), ({"eps": 2.0}, "eps"), ({"steps": -1}, "steps"),
     ({"step_size": 0.0}, "step_size"), ({"kind": "hinge"}, "unknown"),
     ({"batch_size": 0}, "batch_size")],
)
def test_task_pgd_rejects_bad_arguments(kwargs, match):
    args = {"kind": "mse", "eps": 0.1, "steps": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        mt.task_pgd(tiny_classifier(), torch.rand(2, 3, 2, 2), **args)
    with pytest.raises(ValueError, match="lie in"):
        mt.task_pgd(tiny_classifier(), torch.full((2, 3, 2, 2), 2.0), kind="mse", eps=0.1,
                    steps=1)


# ---------------------------------------------------------------- training and transfer


def test_train_task_model_is_deterministic_and_learns():
    torch.manual_seed(0)
    y = torch.arange(80) % 2
    x = 0.5 * torch.rand(80, 1, 10, 10) + 0.5 * y.view(-1, 1, 1, 1)  # bright vs dark
    weights = []
    for _ in range(2):
        torch.manual_seed(1)
        model = TaskNet(2, image_size=10, width=4, feature_dim=8)
        model, hist = mt.train_task_model(model, (x[:60], y[:60]), (x[60:], y[60:]), kind="ce",
                                          epochs=5, batch_size=20, lr=0.02, seed=2,
                                          progress=False)
        weights.append(torch.cat([p.flatten() for p in model.parameters()]))
    assert torch.equal(weights[0], weights[1])
    assert hist["best_val_loss"] == min(hist["val_loss"]) < math.log(2)


def test_ridge_head_recovers_linear_map_and_logistic_head_scores():
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(200, 5))
    w = rng.normal(size=(5, 3))
    y = torch.from_numpy(feats @ w + 0.5)
    head = mt.fit_transfer_head(feats, y, "mse", ridge=1e-9)
    assert head.losses(feats, y).max() < 1e-10
    labels = torch.from_numpy((feats[:, 0] > 0).astype(np.int64))
    clf = mt.fit_transfer_head(feats, labels, "ce", C=10.0)
    losses = clf.losses(feats, labels)
    assert losses.shape == (200,) and losses.mean() < 0.2
    # a class unseen in training gets the probability floor, not an error
    assert clf.losses(feats[:2], torch.tensor([1, 2])).max() > 20
    with pytest.raises(ValueError, match="kl"):
        mt.fit_transfer_head(feats, y, "kl")


def test_encoder_transfer_prefers_informative_encoder():
    torch.manual_seed(0)
    x = torch.rand(150, 1, 6, 6)
    good = TaskNet(1, image_size=6, width=2, feature_dim=4)
    bad = TaskNet(1, image_size=6, width=2, feature_dim=4)
    with torch.no_grad():  # the target is linear in good's features; bad's are constant
        y = good.features(x).sum(dim=1, keepdim=True)
        for p in bad.parameters():
            p.zero_()
    spec = mt.TaskSpec("sum", "pixel", "mse", 1)
    data = mt.TaskData(x=x, targets={"sum": y}, splits={}, meta={})
    idx = torch.arange(150)
    tables = [mt.encoder_transfer_losses(m, spec, data, [spec], idx[:100], idx[100:],
                                         ridge=1e-9, C=1.0, device=torch.device("cpu"))
              for m in (good, bad)]
    assert list(tables[0].columns) == ["source", "target", "image", "loss"]
    assert tables[0]["loss"].max() < 1e-8 < tables[1]["loss"].mean()


# --------------------------------------------------------------------------- save/load


def test_task_model_round_trip(tmp_path):
    model = TaskNet(5, image_size=10, width=3, feature_dim=6, mean=[0.2], std=[0.3])
    spec = mt.TaskSpec("digit", "semantic", "ce", 5)
    path = tmp_path / "m.safetensors"
    mt.save_task_model(model, path, spec, meta={"seed": 3})
    loaded, spec2, meta = mt.load_task_model(path)
    assert spec2 == spec and meta["seed"] == 3 and meta["arch"] == "digits_tasknet"
    x = torch.rand(4, 1, 10, 10)
    assert torch.equal(model.eval()(x), loaded(x))
    path.with_suffix(".json").unlink()
    with pytest.raises(FileNotFoundError, match="m.json"):
        mt.load_task_model(path)


def test_task_data_round_trip_and_subset(tmp_path):
    x = torch.randint(0, 256, (6, 3, 4, 4), dtype=torch.uint8)
    mt.save_task_data(tmp_path / "d.safetensors", x, {"a": x.float()}, {"test": torch.arange(6)},
                      {"tasks": []})
    data = mt.load_task_data(tmp_path / "d.safetensors")
    assert torch.allclose(data.x, x.float() / 255) and data.meta == {"tasks": []}
    assert set(data.targets) == {"a"} and torch.equal(data.splits["test"], torch.arange(6))
    sub = mt.seeded_subset(torch.arange(10, 20), 4, seed=1)
    assert torch.equal(sub, mt.seeded_subset(torch.arange(10, 20), 4, seed=1))
    assert len(sub) == 4 and torch.all(sub[1:] > sub[:-1])
    assert torch.equal(mt.seeded_subset(torch.arange(3), None, 0), torch.arange(3))
