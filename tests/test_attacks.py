"""Tests of advtransfer.core.attacks: PGD in [0, 1] pixel space and cross adversarial losses."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits
from torch import nn

from advtransfer.core.attacks import PGD_LOSSES, adversarial_losses, pgd_attack

TOL = 1e-6


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """Real 8x8 digit images in [0, 1], shape (N, 1, 8, 8), and their labels."""
    data = load_digits()
    x = torch.tensor(data.images / 16.0, dtype=torch.float32).unsqueeze(1)
    y = torch.tensor(data.target, dtype=torch.long)
    return x, y


@pytest.fixture(scope="module")
def logistic(digits) -> nn.Module:
    """A logistic-regression classifier on raw pixels, trained for a few hundred Adam steps."""
    x, y = digits
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    optimiser = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(300):
        optimiser.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimiser.step()
    for parameter in model.parameters():
        parameter.grad = None
    return model


@pytest.fixture()
def small(digits) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = digits
    return x[:64], y[:64]


class ModeRecorder(nn.Module):
    """Linear classifier that records the training flag seen at every forward pass."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(64, 10)
        self.seen: list[bool] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(self.training)
        return self.linear(x.flatten(1))


# ---------------------------------------------------------------- closed form
def test_one_step_on_hand_weighted_model_moves_against_the_clean_class():
    """f(x) = (sum x, -sum x): the clean class is 0 and CE to class 0 rises as x falls."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2, bias=False))
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[1.0] * 4, [-1.0] * 4]))
    x = torch.full((3, 1, 2, 2), 0.5)
    x_adv = pgd_attack(model, x, eps=0.1, steps=1, step_size=0.1, random_start=False)
    torch.testing.assert_close(x_adv, x - 0.1)
    # more steps stay on the ball's boundary; a clip box below it is respected
    x_adv = pgd_attack(model, x, eps=0.1, steps=5, step_size=0.07, random_start=False)
    torch.testing.assert_close(x_adv, x - 0.1)
    x_low = torch.full((1, 1, 2, 2), 0.05)
    assert torch.equal(pgd_attack(model, x_low, eps=0.1, steps=3, random_start=False),
                       torch.zeros_like(x_low))


def test_default_step_size_is_two_and_a_half_eps_over_steps(logistic, small):
    x, _ = small
    default = pgd_attack(logistic, x, eps=0.08, steps=4, seed=2)
    explicit = pgd_attack(logistic, x, eps=0.08, steps=4, seed=2, step_size=2.5 * 0.08 / 4)
    smaller = pgd_attack(logistic, x, eps=0.08, steps=4, seed=2, step_size=0.01)
    assert torch.equal(default, explicit)
    assert not torch.equal(default, smaller)


# ---------------------------------------------------------------- properties
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    eps=st.floats(min_value=0.0, max_value=1.0),
    steps=st.integers(min_value=0, max_value=4),
    random_start=st.booleans(),
    loss=st.sampled_from(PGD_LOSSES),
    seed=st.integers(min_value=0, max_value=2**31 - 1),
)
def test_stays_in_eps_ball_and_unit_box(logistic, small, eps, steps, random_start, loss, seed):
    x, y = small
    x_adv = pgd_attack(logistic, x, eps=eps, steps=steps, random_start=random_start,
                       loss=loss, y=y, seed=seed, batch_size=25)
    assert x_adv.shape == x.shape and x_adv.dtype == x.dtype
    assert float((x_adv - x).abs().max()) <= eps + TOL
    assert float(x_adv.min()) >= 0.0 and float(x_adv.max()) <= 1.0
    assert not x_adv.requires_grad


def test_custom_clip_box_is_respected(logistic, small):
    x, _ = small
    x = x.clamp(0.1, 0.9)
    x_adv = pgd_attack(logistic, x, eps=0.3, steps=3, clip=(0.1, 0.9))
    assert float(x_adv.min()) >= 0.1 and float(x_adv.max()) <= 0.9


# ---------------------------------------------------------------- it attacks
def test_raises_source_loss_and_lowers_accuracy(logistic, digits):
    x, y = digits
    x, y = x[:400], y[:400]
    with torch.no_grad():
        clean_logits = logistic(x)
    clean_pred = clean_logits.argmax(1)
    assert (clean_pred == y).float().mean() > 0.9  # the model did learn

    x_adv = pgd_attack(logistic, x, eps=0.1, steps=10)  # label-free, the default
    with torch.no_grad():
        adv_logits = logistic(x_adv)
    assert F.cross_entropy(adv_logits, clean_pred) > F.cross_entropy(clean_logits, clean_pred) + 1.0
    assert (adv_logits.argmax(1) == y).float().mean() < 0.5

    x_lab = pgd_attack(logistic, x, eps=0.1, steps=10, loss="ce_label", y=y)
    with torch.no_grad():
        assert F.cross_entropy(logistic(x_lab), y) > F.cross_entropy(clean_logits, y) + 1.0

    # squared output deviation: PGD beats its own random start by far
    x_mse = pgd_attack(logistic, x, eps=0.1, steps=10, loss="mse_clean")
    x_rand = pgd_attack(logistic, x, eps=0.1, steps=0, loss="mse_clean")
    with torch.no_grad():
        dev_pgd = (logistic(x_mse) - clean_logits).pow(2).sum(1).mean()
        dev_rand = (logistic(x_rand) - clean_logits).pow(2).sum(1).mean()
    assert dev_pgd > 10 * dev_rand


# ---------------------------------------------------------------- identities
def test_eps_zero_is_identity(logistic, small):
    x, _ = small
    for random_start in (True, False):
        x_adv = pgd_attack(logistic, x, eps=0.0, steps=5, random_start=random_start)
        assert torch.equal(x_adv, x)
        assert x_adv is not x and x_adv.data_ptr() != x.data_ptr()


def test_zero_steps_without_random_start_is_identity(logistic, small):
    x, _ = small
    x_adv = pgd_attack(logistic, x, eps=0.3, steps=0, random_start=False)
    assert torch.equal(x_adv, x) and x_adv is not x


def test_zero_steps_with_random_start_is_the_clipped_start(logistic, small):
    x, _ = small
    x_adv = pgd_attack(logistic, x, eps=0.2, steps=0, seed=3)
    assert not torch.equal(x_adv, x)
    assert float((x_adv - x).abs().max()) <= 0.2 + TOL


# ---------------------------------------------------------------- determinism
def test_seeded_runs_repeat_and_seeds_differ(logistic, small):
    x, _ = small
    first = pgd_attack(logistic, x, eps=0.1, steps=3, seed=7)
    again = pgd_attack(logistic, x, eps=0.1, steps=3, seed=7)
    other = pgd_attack(logistic, x, eps=0.1, steps=3, seed=8)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_result_does_not_depend_on_batch_size(logistic, small):
    x, _ = small
    big = pgd_attack(logistic, x, eps=0.1, steps=3, seed=1, batch_size=256)
    tiny = pgd_attack(logistic, x, eps=0.1, steps=3, seed=1, batch_size=5)
    # per-sample gradients; at most a sign of an exactly-zero-ish component may differ
    assert (big != tiny).float().mean() < 1e-3


def test_does_not_consume_global_rng(logistic, small):
    x, _ = small
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    pgd_attack(logistic, x, eps=0.1, steps=1, seed=5)
    assert torch.equal(torch.rand(3), expected)


# ---------------------------------------------------------------- bad arguments
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"eps": -0.1}, "non-negative"),
        ({"eps": 1.5}, "<= 1"),
        ({"eps": float("nan")}, "finite"),
        ({"steps": -1}, "non-negative"),
        ({"steps": 2.5}, "integer"),
        ({"step_size": 0.0}, "step_size"),
        ({"step_size": -0.01}, "step_size"),
        ({"loss": "hinge"}, "unknown loss"),
        ({"loss": "ce_label"}, "required"),
        ({"loss": "ce_label", "y": torch.zeros(3, dtype=torch.long)}, "shape"),
        ({"loss": "ce_label", "y": torch.zeros(64)}, "integer"),
        ({"batch_size": 0}, "batch_size"),
        ({"clip": (1.0, 0.0)}, "clip"),
        ({"clip": (-0.5, 1.0)}, "clip"),
    ],
)
def test_bad_arguments_raise(logistic, small, kwargs, match):
    x, _ = small
    arguments = {"eps": 0.1, "steps": 2} | kwargs
    with pytest.raises(ValueError, match=match):
        pgd_attack(logistic, x, **arguments)


@pytest.mark.parametrize("bad", [1.5, -0.1, float("nan")])
def test_input_outside_unit_box_raises(logistic, small, bad):
    x, _ = small
    x = x.clone()
    x[0, 0, 0, 0] = bad
    with pytest.raises(ValueError, match="must lie in"):
        pgd_attack(logistic, x, eps=0.1, steps=1)


def test_integer_input_raises(logistic):
    with pytest.raises(ValueError, match="floating"):
        pgd_attack(logistic, torch.zeros(2, 1, 8, 8, dtype=torch.uint8), eps=0.1, steps=1)


# ---------------------------------------------------------------- model hygiene
def test_eval_mode_during_attack_and_modes_restored(small):
    x, _ = small
    torch.manual_seed(0)
    inner = ModeRecorder()
    model = nn.Sequential(inner, nn.Dropout(0.5))
    model.train()
    model[1].eval()  # a mixed configuration must come back exactly
    pgd_attack(model, x, eps=0.1, steps=2, batch_size=32)
    assert inner.seen and not any(inner.seen)
    assert model.training and inner.training and not model[1].training

    model.eval()
    pgd_attack(model, x, eps=0.1, steps=1)
    assert not model.training and not inner.training


def test_no_gradients_left_on_parameters(logistic, small):
    x, y = small
    for loss in PGD_LOSSES:
        pgd_attack(logistic, x, eps=0.1, steps=2, loss=loss, y=y)
    for parameter in logistic.parameters():
        assert parameter.grad is None
        assert parameter.requires_grad


def test_input_tensor_untouched(logistic, small):
    x, _ = small
    before = x.clone()
    pgd_attack(logistic, x, eps=0.1, steps=2)
    assert torch.equal(x, before) and not x.requires_grad


# ---------------------------------------------------------------- adversarial_losses
def test_adversarial_losses_match_hand_computation(logistic, small):
    x, y = small
    x_adv = pgd_attack(logistic, x, eps=0.1, steps=5)
    out = adversarial_losses(logistic, x, x_adv, y, batch_size=10)
    with torch.no_grad():
        clean, adv = logistic(x), logistic(x_adv)
    torch.testing.assert_close(out["loss_clean"], F.cross_entropy(clean, y, reduction="none"))
    torch.testing.assert_close(out["loss_adv"], F.cross_entropy(adv, y, reduction="none"))
    expected_flip = (adv.argmax(1) != clean.argmax(1)).float()
    assert torch.equal(out["flip"], expected_flip)
    assert torch.equal(out["correct_adv"], (adv.argmax(1) == y).float())
    for value in out.values():
        assert value.shape == (x.shape[0],)
    assert out["flip"].mean() > 0.3
    assert out["loss_adv"].mean() > out["loss_clean"].mean()


def test_adversarial_losses_on_clean_inputs_flip_nothing(logistic, small):
    x, y = small
    out = adversarial_losses(logistic, x, x.clone(), y)
    assert torch.equal(out["loss_clean"], out["loss_adv"])
    assert out["flip"].sum() == 0
    for parameter in logistic.parameters():
        assert parameter.grad is None


def test_adversarial_losses_bad_arguments(logistic, small):
    x, y = small
    with pytest.raises(ValueError, match="same shape"):
        adversarial_losses(logistic, x, x[:3], y)
    with pytest.raises(ValueError, match="shape"):
        adversarial_losses(logistic, x, x, y[:3])
    with pytest.raises(ValueError, match="batch_size"):
        adversarial_losses(logistic, x, x, y, batch_size=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_model_on_gpu_inputs_on_cpu(logistic, small):
    x, y = small
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    model.load_state_dict(logistic.state_dict())
    model = model.cuda()
    x_adv = pgd_attack(model, x, eps=0.1, steps=3, seed=1)
    assert x_adv.device == x.device
    assert float((x_adv - x).abs().max()) <= 0.1 + TOL
    out = adversarial_losses(model, x, x_adv, y)
    assert out["loss_adv"].device.type == "cpu"


def test_pgd_reports_progress_per_batch():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    x = torch.rand(5, 1, 2, 2)
    seen = []
    pgd_attack(model, x, eps=0.1, steps=2, batch_size=2, progress=lambda d, n: seen.append((d, n)))
    assert seen == [(2, 5), (4, 5), (5, 5)]
