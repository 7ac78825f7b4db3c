"""Tests for advtransfer.images.training: learning digits, determinism, model selection, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from advtransfer.images.architectures import build_model
from advtransfer.images.datasets import load_digits_images, split_indices
from advtransfer.images.training import _flip_crop, evaluate, pick_device, train_classifier


@pytest.fixture(autouse=True)
def _one_thread():
    """Two busy cores: one intra-op thread is much faster for these tiny workloads."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits_images()
    parts = split_indices(y, (0.7, 0.15, 0.15), seed=0)
    return {k: (x[v], y[v]) for k, v in parts.items()}


def _digits_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return build_model("digits_cnn", 10, 1, [0.3], [0.4])


def test_digits_cnn_learns_digits_quickly(digits):
    model, history = train_classifier(
        _digits_model(), digits["train"], digits["val"], epochs=6, batch_size=64,
        optimizer="adam", lr=3e-3, seed=0, progress=False,
    )  # fmt: skip
    assert history["best_val_accuracy"] > 0.85
    assert not model.training
    assert len(history["train_loss"]) == len(history["val_accuracy"]) == 6
    best = history["best_epoch"]
    assert history["val_accuracy"][best - 1] == max(history["val_accuracy"])  # 1-based
    # the restored weights are those of the best validation epoch
    assert evaluate(model, *digits["val"])["accuracy"] == pytest.approx(
        history["best_val_accuracy"]
    )
    assert evaluate(model, *digits["test"])["accuracy"] > 0.8
    # cosine schedule: learning rate decreases from lr
    assert history["lr"][0] == pytest.approx(3e-3)
    assert all(a > b for a, b in zip(history["lr"][:-1], history["lr"][1:], strict=True))


def test_training_is_deterministic(digits):
    x, y = digits["train"]
    small = (x[:256], y[:256])
    kwargs = dict(epochs=2, batch_size=32, optimizer="sgd", lr=0.05, seed=5, progress=False)
    m1, h1 = train_classifier(_digits_model(1), small, digits["val"], **kwargs)
    m2, h2 = train_classifier(_digits_model(1), small, digits["val"], **kwargs)
    m3, _ = train_classifier(_digits_model(1), small, digits["val"], **{**kwargs, "seed": 6})
    for key, value in m1.state_dict().items():
        assert torch.equal(value, m2.state_dict()[key]), key
    assert h1["train_loss"] == h2["train_loss"]
    assert any(not torch.equal(v, m3.state_dict()[k]) for k, v in m1.state_dict().items())


def test_uint8_images_train_exactly_as_their_float_values(digits):
    """uint8 images stay uint8 in memory (paper-scale sets) and train as x / 255."""
    x, y = digits["train"]
    xu = torch.as_tensor(x[:256] * 255).round().to(torch.uint8)
    vu = torch.as_tensor(digits["val"][0] * 255).round().to(torch.uint8)
    val_y = digits["val"][1]
    kwargs = dict(epochs=2, batch_size=32, optimizer="adam", lr=3e-3, seed=2, progress=False)
    m_u, h_u = train_classifier(_digits_model(3), (xu, y[:256]), (vu, val_y), **kwargs)
    m_f, h_f = train_classifier(
        _digits_model(3), (xu.float() / 255, y[:256]), (vu.float() / 255, val_y), **kwargs
    )
    assert h_u["train_loss"] == h_f["train_loss"]
    assert h_u["val_accuracy"] == h_f["val_accuracy"]
    for key, value in m_u.state_dict().items():
        assert torch.equal(value, m_f.state_dict()[key]), key
    assert evaluate(m_u, vu, val_y) == evaluate(m_u, vu.float() / 255, val_y)


def test_channel_stats_chunked_match_the_direct_formula():
    from advtransfer.images.datasets import channel_stats

    gen = torch.Generator().manual_seed(0)
    xu = torch.randint(0, 256, (9000, 3, 4, 5), generator=gen, dtype=torch.uint8)
    xf = (xu.float() / 255).double()  # the float32 values a batch is converted to
    mean, std = channel_stats(xu)
    assert mean == pytest.approx(xf.mean(dim=(0, 2, 3)).tolist(), abs=1e-12)
    assert std == pytest.approx(xf.std(dim=(0, 2, 3)).tolist(), abs=1e-10)
    assert channel_stats(xf.float())[0] == pytest.approx(mean, abs=1e-12)
    assert channel_stats(torch.zeros(4, 1, 2, 2))[1] == [pytest.approx(1e-3)]  # floored


def test_augmented_training_is_deterministic():
    rng = np.random.default_rng(0)
    x = rng.random((24, 3, 8, 8), dtype=np.float32)
    y = rng.integers(0, 2, 24)
    kwargs = dict(epochs=2, batch_size=8, optimizer="adadelta", lr=1.0, seed=1,
                  augment="flip_crop", lr_schedule="none", progress=False)  # fmt: skip

    def run():
        torch.manual_seed(0)
        model = build_model("digits_cnn", 2, 3, [0.5] * 3, [0.3] * 3)
        return train_classifier(model, (x, y), (x, y), **kwargs)

    (m1, h1), (m2, _) = run(), run()
    assert h1["lr"] == [1.0, 1.0]
    for key, value in m1.state_dict().items():
        assert torch.equal(value, m2.state_dict()[key]), key


def test_flip_crop_is_a_padded_crop_or_its_mirror():
    x = torch.rand(16, 2, 6, 6)
    out = _flip_crop(x, torch.Generator().manual_seed(0), pad=2)
    assert out.shape == x.shape
    padded = nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(len(x)):
        candidates = [
            padded[i, :, r : r + 6, c : c + 6].flip(-1) if f else padded[i, :, r : r + 6, c : c + 6]
            for r in range(5) for c in range(5) for f in (False, True)
        ]  # fmt: skip
        assert any(torch.equal(out[i], cand) for cand in candidates)


def test_lone_last_sample_does_not_break_batchnorm():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
    x = torch.rand(9, 1, 2, 2)
    y = torch.randint(0, 2, (9,))
    _, history = train_classifier(
        model, (x, y), (x, y), epochs=1, batch_size=4, optimizer="sgd", lr=0.1, seed=0,
        progress=False,
    )  # fmt: skip
    assert math.isfinite(history["train_loss"][0])


class _FixedLogits(nn.Module):
    """Logits (x_sum, 0): class 1 is predicted iff the pixel sum is negative."""

    def __init__(self) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.flatten(1).sum(1)
        return torch.stack([s, torch.zeros_like(s)], dim=1) + self.dummy


def test_evaluate_closed_form_and_restores_mode():
    model = _FixedLogits().train()
    x = torch.tensor([1.0, -2.0, 3.0, 0.5]).view(4, 1, 1, 1)
    y = torch.tensor([0, 1, 1, 0])
    result = evaluate(model, x, y, batch_size=3)
    # CE of logits (s, 0) for label 0 is log(1 + e^-s), for label 1 log(1 + e^s)
    expected = np.mean([math.log1p(math.exp(-1.0)), math.log1p(math.exp(-2.0)),
                        math.log1p(math.exp(3.0)), math.log1p(math.exp(-0.5))])  # fmt: skip
    assert result["accuracy"] == pytest.approx(0.75)
    assert result["loss"] == pytest.approx(expected, rel=1e-6)
    assert result["n"] == 4
    assert model.training


def test_pick_device(monkeypatch):
    assert pick_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device() == torch.device("cpu")
    with pytest.raises(ValueError, match="CUDA is not available"):
        pick_device("cuda")
    with pytest.raises(ValueError, match="unknown device"):
        pick_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto") == torch.device("cuda")


@pytest.mark.parametrize(
    "change,match",
    [
        (dict(epochs=0), "epochs"),
        (dict(batch_size=0), "batch_size"),
        (dict(optimizer="rmsprop"), "unknown optimizer"),
        (dict(lr=-1.0), "lr"),
        (dict(momentum=1.0), "momentum"),
        (dict(weight_decay=-0.1), "weight_decay"),
        (dict(augment="cutout"), "unknown augmentation"),
        (dict(lr_schedule="step"), "lr_schedule"),
    ],
)
def test_bad_arguments_raise(change, match):
    x, y = torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 0, 1])
    kwargs = dict(epochs=1, batch_size=2, optimizer="sgd", lr=0.1, seed=0, progress=False)
    kwargs.update(change)
    with pytest.raises(ValueError, match=match):
        train_classifier(_digits_model(), (x, y), (x, y), **kwargs)


def test_mismatched_data_raises():
    with pytest.raises(ValueError, match="train"):
        train_classifier(
            _digits_model(), (torch.rand(4, 1, 8, 8), torch.zeros(3, dtype=torch.long)),
            (torch.rand(2, 1, 8, 8), torch.zeros(2, dtype=torch.long)),
            epochs=1, batch_size=2, optimizer="sgd", lr=0.1, seed=0, progress=False,
        )  # fmt: skip


def test_diverging_training_raises():
    x, y = torch.rand(8, 1, 8, 8), torch.tensor([0, 1] * 4)
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        train_classifier(
            _digits_model(), (x * 1e30, y), (x, y), epochs=1, batch_size=4,
            optimizer="sgd", lr=1e10, seed=0, progress=False,
        )  # fmt: skip
