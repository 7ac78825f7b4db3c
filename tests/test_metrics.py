"""Metric core vs closed-form cases, exact identities and properties (docs/method.md §3, §5)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from advtransfer.core import tau, theory
from advtransfer.core.tau import adversarial_transferability, input_jacobians, top_singular


@pytest.fixture(autouse=True)
def _float64_default():
    """These closed-form checks run in float64; restore the default afterwards."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def random_mlp(n_in: int, hidden: int, n_out: int, seed: int, act=torch.tanh) -> nn.Module:
    torch.manual_seed(seed)

    class MLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = nn.Linear(n_in, hidden)
            self.fc2 = nn.Linear(hidden, n_out)

        def forward(self, x):
            return self.fc2(act(self.fc1(x)))

    return MLP().double()


def linear_jacobians(w: torch.Tensor, n_points: int) -> torch.Tensor:
    return w.unsqueeze(0).expand(n_points, *w.shape).clone()


def orthogonal(d: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=gen))
    return q


# ---------------------------------------------------------------- closed forms


def test_linear_models_match_svd():
    gen = torch.Generator().manual_seed(0)
    ws, wt = torch.randn(4, 9, generator=gen), torch.randn(3, 9, generator=gen)
    res = adversarial_transferability(linear_jacobians(ws, 5), linear_jacobians(wt, 5))
    _, s_s, vh_s = torch.linalg.svd(ws)
    _, s_t, vh_t = torch.linalg.svd(wt)
    expected_tau1 = float((vh_s[0] @ vh_t[0]) ** 2)
    assert float(res["tau1"]) == pytest.approx(expected_tau1, abs=1e-12)
    assert float(res["lambda_source"]) == pytest.approx(float(s_s[1] / s_s[0]), abs=1e-12)
    assert float(res["lambda_target"]) == pytest.approx(float(s_t[1] / s_t[0]), abs=1e-12)
    # alpha = ||W_T v_S||^2 / sigma1(W_T)^2 for linear models
    expected_alpha = float((wt @ vh_s[0]).pow(2).sum() / s_t[0] ** 2)
    assert float(res["alpha"]) == pytest.approx(expected_alpha, abs=1e-12)


def test_identical_models_give_ones():
    model = random_mlp(6, 16, 3, seed=1)
    x = torch.randn(40, 6)
    jac = input_jacobians(model, x)
    res = adversarial_transferability(jac, jac)
    for key in ("tau1", "tau2", "alpha"):
        assert float(res[key]) == pytest.approx(1.0, abs=1e-10)
    assert float(theory.gradient_difference(jac, jac, res["A"])) == pytest.approx(0.0, abs=1e-18)


@pytest.mark.parametrize("c", [0.3, 2.5])
def test_scaled_orthogonal_map_gives_ones(c):
    model = random_mlp(7, 20, 4, seed=2)
    x = torch.randn(60, 7)
    jac_s = input_jacobians(model, x)
    q = orthogonal(4, seed=3)
    bias = torch.randn(4)

    def target(z):
        return c * model(z) @ q.T + bias

    jac_t = input_jacobians(target_module(target), x)
    res = adversarial_transferability(jac_s, jac_t)
    assert float(res["tau1"]) == pytest.approx(1.0, abs=1e-10)
    assert float(res["tau2"]) == pytest.approx(1.0, abs=1e-10)
    assert torch.allclose(res["A"], c * q, atol=1e-8)
    assert float(theory.gradient_difference(jac_s, jac_t, res["A"])) < 1e-16


def test_scalar_affine_map_gives_ones():
    model = random_mlp(5, 12, 1, seed=4)
    x = torch.randn(50, 5)
    jac_s = input_jacobians(model, x)
    jac_t = input_jacobians(target_module(lambda z: -3.0 * model(z) + 0.7), x)
    res = adversarial_transferability(jac_s, jac_t)
    assert float(res["tau1"]) == pytest.approx(1.0, abs=1e-10)
    assert float(res["tau2"]) == pytest.approx(1.0, abs=1e-10)
    assert float(theory.gradient_difference(jac_s, jac_t, res["A"])) < 1e-16


def test_general_linear_map_projection_bites():
    """f_T = M f_S with unequal singular values of M: tau2 = s (2 - s), s = r / ||M||_2."""
    model = random_mlp(8, 24, 3, seed=5)
    x = torch.randn(80, 8)
    m = torch.tensor([[2.0, 0.3, 0.0], [0.1, 0.5, 0.2], [0.0, 0.4, 1.0]])
    jac_s = input_jacobians(model, x)
    jac_t = input_jacobians(target_module(lambda z: model(z) @ m.T), x)
    res = adversarial_transferability(jac_s, jac_t)
    delta_s = res["delta_source"]
    r = ((delta_s @ m.T).pow(2).sum(1).mean() / delta_s.pow(2).sum(1).mean()).sqrt()
    s = float(r / torch.linalg.matrix_norm(m, ord=2))
    assert s < 1.0
    assert torch.allclose(res["A_star"], m, atol=1e-8)
    assert float(res["tau2"]) == pytest.approx(s * (2 - s), abs=1e-10)
    assert float(res["tau2"]) < 1.0


def test_orthogonal_scalar_gradients_give_zero_tau1():
    x = torch.randn(30, 4)
    jac_s = input_jacobians(target_module(lambda z: z[:, 0] * 2.0), x)
    jac_t = input_jacobians(target_module(lambda z: z[:, 1] ** 3), x)
    res = adversarial_transferability(jac_s, jac_t)
    assert float(res["tau1"]) == pytest.approx(0.0, abs=1e-14)
    assert float(res["alpha"]) == pytest.approx(0.0, abs=1e-14)


def test_scalar_tau2_closed_form():
    """Scalar case: tau2 = <Delta_S, Delta_T>_D^2 / (||Delta_S||^2 ||Delta_T||^2)."""
    f_s = random_mlp(5, 10, 1, seed=6)
    f_t = random_mlp(5, 10, 1, seed=7)
    x = torch.randn(64, 5)
    res = adversarial_transferability(input_jacobians(f_s, x), input_jacobians(f_t, x))
    ds, dt = res["delta_source"][:, 0], res["delta_target"][:, 0]
    expected = (ds * dt).mean() ** 2 / (ds.pow(2).mean() * dt.pow(2).mean())
    assert float(res["tau2"]) == pytest.approx(float(expected), abs=1e-12)


def test_tau2_is_directional():
    f_s = random_mlp(6, 10, 3, seed=8)
    f_t = random_mlp(6, 10, 2, seed=9)
    x = torch.randn(50, 6)
    js, jt = input_jacobians(f_s, x), input_jacobians(f_t, x)
    forward = float(adversarial_transferability(js, jt)["tau2"])
    backward = float(adversarial_transferability(jt, js)["tau2"])
    assert abs(forward - backward) > 1e-6


# ---------------------------------------------------------------- theorems


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), hidden=st.integers(2, 20), n_in=st.integers(2, 8))
def test_theorem1_identity(seed, hidden, n_in):
    f_s = random_mlp(n_in, hidden, 1, seed=seed, act=torch.sigmoid)
    f_t = random_mlp(n_in, hidden, 1, seed=seed + 1, act=torch.tanh)
    x = torch.randn(37, n_in, generator=torch.Generator().manual_seed(seed))
    js, jt = input_jacobians(f_s, x), input_jacobians(f_t, x)
    res = adversarial_transferability(js, jt)
    lhs = theory.gradient_difference(js, jt, res["A"])
    rhs = theory.theorem1_rhs(res)
    assert abs(float(lhs - rhs)) <= 1e-10 * max(1.0, float(lhs))


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    d_s=st.integers(1, 5),
    d_t=st.integers(1, 5),
    t=st.floats(0.0, 1.0),
)
def test_theorem2_bound_dominates_gradient_difference(seed, d_s, d_t, t):
    f_t = random_mlp(6, 12, d_t, seed=seed, act=torch.sigmoid)
    f_s = random_mlp(6, 12, d_s, seed=seed + 7, act=torch.sigmoid)
    x = torch.randn(40, 6, generator=torch.Generator().manual_seed(seed))
    js, jt = input_jacobians(f_s, x), input_jacobians(f_t, x)
    if d_s == d_t:  # also cover nearby models
        js = (1 - t) * jt + t * js
    res = adversarial_transferability(js, jt)
    g = float(theory.gradient_difference(js, jt, res["A"]))
    assert float(theory.theorem2_bound(res)) >= g - 1e-12
    assert float(theory.theorem2_bound_worst_case(res)) >= g - 1e-12


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), t=st.floats(0.0, 1.0))
def test_theorem3_bound_dominates_transferred_loss(seed, t):
    from advtransfer.synthetic import experiment

    data = experiment.make_rbf_data(n_samples=60, input_dim=5, output_dim=3, n_rbf=8, seed=seed)
    x = data.x / experiment.input_scale_for(data.x)  # ||x|| <= 1 as Theorem 3 assumes
    target = experiment.SigmoidMLP(5, 10, 3).double().eval()
    torch.manual_seed(seed)
    for p in target.parameters():
        nn.init.normal_(p)
    source = experiment.perturbed(target, experiment.random_direction(target, seed + 1), t)
    out = experiment.sweep_point(source, target, x, data.y, input_scale=1.0)
    assert out["thm3_bound"] >= out["g_transferred_loss"]
    assert out["thm3_bound"] >= out["transferred_loss"]


def test_sweep_point_prop2_affine_and_ratio_columns():
    from advtransfer.synthetic import experiment

    data = experiment.make_rbf_data(n_samples=80, input_dim=5, output_dim=3, n_rbf=8, seed=3)
    target = experiment.SigmoidMLP(5, 12, 3).double().eval()
    source = experiment.perturbed(target, experiment.random_direction(target, 4), 0.4)
    scale = experiment.input_scale_for(data.x)
    out = experiment.sweep_point(source, target, data.x, data.y, input_scale=scale)
    assert out["prop2_lower"] <= out["first_order_cross_loss"] + 1e-15
    assert out["first_order_cross_loss"] <= out["prop2_upper"] + 1e-15
    # the affine map on outputs is a special case of refitting the last layer
    assert out["affine_transferred_loss"] >= out["transferred_loss"] - 1e-12
    assert out["thm2_ratio"] == pytest.approx(out["thm2_bound"] / out["grad_diff"])
    assert out["thm3_ratio"] == pytest.approx(out["thm3_bound"] / out["g_transferred_loss"])
    # first-order cross loss is E ||J_T v_S||^2, i.e. alpha times E sigma_1,T^2
    same = experiment.sweep_point(target, target, data.x, data.y, input_scale=scale)
    assert same["first_order_cross_loss"] == pytest.approx(same["prop2_upper"])
    assert math.isnan(same["thm2_ratio"])  # G is 0 up to round-off: the ratio is undefined


def test_affine_output_loss_is_zero_for_an_affine_relation():
    from advtransfer.synthetic import experiment

    data = experiment.make_rbf_data(n_samples=60, input_dim=4, output_dim=3, n_rbf=5, seed=0)
    model = experiment.SigmoidMLP(4, 7, 3).double().eval()
    gen = torch.Generator().manual_seed(1)
    m, b = torch.randn(2, 3, generator=gen, dtype=torch.float64), torch.randn(2, dtype=torch.float64)
    with torch.no_grad():
        y = model(data.x) @ m.T + b
    assert experiment.refit_affine_output_loss(model, data.x, y) < 1e-20
    assert experiment.refit_affine_output_loss(model, data.x, data.y) > 0


def test_sigmoid_second_derivative_constant():
    z = torch.linspace(-6, 6, 200_001)
    s = torch.sigmoid(z)
    second = s * (1 - s) * (1 - 2 * s)
    assert float(second.abs().max()) == pytest.approx(theory.MAX_SIGMOID_SECOND_DERIVATIVE, rel=1e-8)


def test_proposition2_brackets_first_order_loss():
    f_s = random_mlp(6, 15, 4, seed=11)
    f_t = random_mlp(6, 15, 3, seed=12)
    x = torch.randn(45, 6)
    js, jt = input_jacobians(f_s, x), input_jacobians(f_t, x)
    res = adversarial_transferability(js, jt)
    eps = 0.05
    loss = eps**2 * res["delta_target"].pow(2).sum(1).mean()
    lower, upper = theory.proposition2_bounds(res, eps)
    assert float(lower) <= float(loss) + 1e-15 <= float(upper) + 2e-15


# ---------------------------------------------------------------- properties


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), d_s=st.integers(1, 6), d_t=st.integers(1, 6))
def test_measures_in_unit_interval(seed, d_s, d_t):
    f_s = random_mlp(5, 9, d_s, seed=seed)
    f_t = random_mlp(5, 9, d_t, seed=seed + 3)
    x = torch.randn(25, 5, generator=torch.Generator().manual_seed(seed))
    res = adversarial_transferability(input_jacobians(f_s, x), input_jacobians(f_t, x))
    for key in ("tau1", "tau2", "alpha"):
        assert -1e-12 <= float(res[key]) <= 1 + 1e-12, key
    assert torch.all(res["tau1_per_sample"] <= 1 + 1e-12)


def test_invariant_to_singular_vector_signs(monkeypatch):
    f_s = random_mlp(6, 10, 4, seed=21)
    f_t = random_mlp(6, 10, 3, seed=22)
    x = torch.randn(33, 6)
    js, jt = input_jacobians(f_s, x), input_jacobians(f_t, x)
    reference = adversarial_transferability(js, jt)
    original = tau.top_singular
    gen = torch.Generator().manual_seed(0)

    def flipped(jac):
        out = original(jac)
        sign = torch.where(torch.rand(jac.shape[0], generator=gen) < 0.5, -1.0, 1.0)
        return tau.TopSingular(
            v=out.v * sign[:, None], u=out.u * sign[:, None], sigma1=out.sigma1, sigma2=out.sigma2
        )

    monkeypatch.setattr(tau, "top_singular", flipped)
    again = adversarial_transferability(js, jt)
    for key in ("tau1", "tau2", "alpha"):
        assert float(again[key]) == pytest.approx(float(reference[key]), abs=1e-12)
    assert float(theory.gradient_difference(js, jt, again["A"])) == pytest.approx(
        float(theory.gradient_difference(js, jt, reference["A"])), abs=1e-12
    )


def test_batched_jacobians_equal_jacrev():
    model = random_mlp(7, 13, 5, seed=31)
    x = torch.randn(23, 7)
    batched = input_jacobians(model, x, batch_size=8)
    expected = torch.func.vmap(torch.func.jacrev(model))(x)
    assert batched.shape == (23, 5, 7)
    assert torch.allclose(batched, expected, atol=1e-12)


def test_batched_jacobians_conv_model_and_eval_mode():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
        nn.Linear(4 * 8 * 8, 10),
    ).double()
    model.train()
    model(torch.rand(16, 1, 8, 8))  # move running statistics away from defaults
    x = torch.rand(9, 1, 8, 8)
    batched = input_jacobians(model, x, batch_size=4)
    assert model.training  # previous mode restored
    model.eval()
    expected = torch.func.vmap(torch.func.jacrev(lambda z: model(z.unsqueeze(0))[0]))(x)
    assert torch.allclose(batched, expected.reshape(9, 10, 64), atol=1e-12)


def test_top_singular_matches_svd_float32():
    gen = torch.Generator().manual_seed(3)
    jac = torch.randn(12, 4, 30, generator=gen, dtype=torch.float32)
    out = top_singular(jac)
    _, s, vh = torch.linalg.svd(jac)
    assert out.v.dtype == torch.float32
    assert torch.allclose(out.sigma1, s[:, 0], rtol=1e-5)
    assert torch.allclose(out.sigma2, s[:, 1], rtol=1e-4)
    assert torch.allclose((out.v * vh[:, 0]).sum(1).abs(), torch.ones(12, dtype=torch.float32), atol=1e-5)


def test_float32_and_float64_agree():
    f_s = random_mlp(6, 10, 4, seed=41)
    f_t = random_mlp(6, 10, 3, seed=42)
    x = torch.randn(30, 6)
    js, jt = input_jacobians(f_s, x), input_jacobians(f_t, x)
    r64 = adversarial_transferability(js, jt)
    r32 = adversarial_transferability(js.float(), jt.float())
    assert r32["tau2"].dtype == torch.float32
    for key in ("tau1", "tau2", "alpha"):
        assert float(r32[key]) == pytest.approx(float(r64[key]), abs=1e-4)


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match="same N"):
        adversarial_transferability(torch.zeros(3, 2, 5), torch.zeros(4, 2, 5))
    with pytest.raises(ValueError, match=r"\(N, d, n\)"):
        adversarial_transferability(torch.zeros(3, 5), torch.zeros(3, 2, 5))


def test_zero_jacobian_is_handled():
    res = adversarial_transferability(torch.zeros(4, 2, 3), torch.ones(4, 2, 3))
    assert float(res["tau1"]) == 0.0 and not math.isnan(float(res["tau2"]))


# ---------------------------------------------------------------- helpers


class target_module(nn.Module):  # noqa: N801 - reads like a function at call sites
    """Wrap a callable as an nn.Module so input_jacobians can switch modes."""

    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)
