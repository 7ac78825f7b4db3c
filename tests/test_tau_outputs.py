"""Softmax-invariant Jacobian outputs and float32 precision of the Gram route of top_singular."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from advtransfer.core import tau

KEYS = ("tau1", "tau2", "alpha", "lambda_source", "lambda_target")


class Shifted(nn.Module):
    """A classifier whose logits get ``+ c(x) 1`` with ``c(x) = a sin(w . x)``: same softmax."""

    def __init__(self, model: nn.Module, n_in: int, seed: int, scale: float) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.model = model
        self.w = torch.randn(n_in, generator=gen, dtype=torch.float64)
        self.scale = scale

    def forward(self, x):
        return self.model(x) + self.scale * torch.sin(x @ self.w).unsqueeze(1)


class Centred(nn.Module):
    """The same classifier with logits that sum to zero."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x):
        z = self.model(x)
        return z - z.mean(1, keepdim=True)


def mlp(n_in: int, hidden: int, n_out: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(n_in, hidden), nn.Tanh(), nn.Linear(hidden, n_out)).double()


def measures(f_s, f_t, x, output):
    js, jt = tau.input_jacobians(f_s, x), tau.input_jacobians(f_t, x)
    with torch.no_grad():
        zs, zt = f_s(x), f_t(x)
    res = tau.adversarial_transferability(tau.output_jacobians(js, output, zs),
                                          tau.output_jacobians(jt, output, zt))
    return {k: float(res[k]) for k in KEYS}


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), d_s=st.integers(2, 5), d_t=st.integers(2, 5),
       n_in=st.integers(3, 8), scale=st.floats(0.1, 5.0))
@pytest.mark.parametrize("output", ["centered_logits", "log_softmax"])
def test_invariant_outputs_ignore_the_free_logit_direction(output, seed, d_s, d_t, n_in, scale):
    f_s, f_t = mlp(n_in, 12, d_s, seed), mlp(n_in, 12, d_t, seed + 1)
    x = torch.randn(10, n_in, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    base = measures(f_s, f_t, x, output)
    moved = measures(Shifted(f_s, n_in, seed + 2, scale), Shifted(f_t, n_in, seed + 3, -scale),
                     x, output)
    for k in KEYS:
        assert moved[k] == pytest.approx(base[k], abs=1e-6), k
    # the raw logit Jacobian does move (otherwise the test would prove nothing)
    raw = measures(f_s, f_t, x, "logits")
    raw_moved = measures(Shifted(f_s, n_in, seed + 2, scale), Shifted(f_t, n_in, seed + 3, -scale),
                         x, "logits")
    assert any(abs(raw[k] - raw_moved[k]) > 1e-6 for k in KEYS)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), d_s=st.integers(2, 5), d_t=st.integers(2, 5),
       n_in=st.integers(3, 8))
def test_centred_equals_raw_when_logits_sum_to_zero(seed, d_s, d_t, n_in):
    f_s, f_t = Centred(mlp(n_in, 12, d_s, seed)), Centred(mlp(n_in, 12, d_t, seed + 1))
    x = torch.randn(10, n_in, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    raw, centred = measures(f_s, f_t, x, "logits"), measures(f_s, f_t, x, "centered_logits")
    for k in KEYS:
        assert centred[k] == pytest.approx(raw[k], abs=1e-6), k


def test_output_jacobians_forms():
    gen = torch.Generator().manual_seed(0)
    jac = torch.randn(4, 3, 7, generator=gen, dtype=torch.float64)
    z = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    c = tau.center_outputs(jac)
    assert torch.allclose(c.sum(1), torch.zeros(4, 7, dtype=torch.float64), atol=1e-12)
    assert torch.equal(tau.output_jacobians(jac, "logits"), jac)
    assert torch.equal(tau.output_jacobians(jac, "centered_logits", z), c)
    single = torch.randn(4, 1, 7, generator=gen, dtype=torch.float64)
    assert torch.equal(tau.center_outputs(single), single)
    # log_softmax Jacobian against autograd
    w = torch.randn(3, 7, generator=gen, dtype=torch.float64)
    x = torch.randn(4, 7, generator=gen, dtype=torch.float64)
    lin = nn.Linear(7, 3).double()
    with torch.no_grad():
        lin.weight.copy_(w)
    js = tau.input_jacobians(lin, x)
    expected = tau.input_jacobians(nn.Sequential(lin, nn.LogSoftmax(1)), x)
    with torch.no_grad():
        got = tau.output_jacobians(js, "log_softmax", lin(x))
    assert torch.allclose(got, expected, atol=1e-12)
    with pytest.raises(ValueError, match="logits"):
        tau.output_jacobians(jac, "log_softmax")
    with pytest.raises(ValueError, match="unknown output"):
        tau.output_jacobians(jac, "probabilities")


@pytest.mark.parametrize("lam", [1e-2, 1e-3, 1e-4, 1e-5])
def test_singular_value_ratio_is_accurate_for_float32_input(lam):
    """The Gram route in float32 gave lambda = 1e-4 with ~300 % error; now 1e-3 relative."""
    gen = torch.Generator().manual_seed(0)
    n_pts, d, n = 16, 10, 64
    u, _ = torch.linalg.qr(torch.randn(n_pts, d, d, generator=gen, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(n_pts, n, d, generator=gen, dtype=torch.float64))
    s = torch.zeros(n_pts, d, dtype=torch.float64)
    s[:, 0], s[:, 1] = 1.0, lam
    s[:, 2:] = 0.5 * lam * torch.rand(n_pts, d - 2, generator=gen, dtype=torch.float64)
    jac32 = ((u * s.unsqueeze(1)) @ v.transpose(1, 2)).float()
    exact = torch.linalg.svdvals(jac32.double())  # of the float32 matrix itself
    truth = exact[:, 1] / exact[:, 0]
    top = tau.top_singular(jac32)
    assert top.sigma1.dtype == torch.float32 and top.v.dtype == torch.float32
    rel = ((top.ratio.double() - truth).abs() / truth).max()
    assert rel < 1e-3
    # chunking over points does not change the result
    small = tau.top_singular(jac32, chunk=3)
    assert torch.equal(small.sigma2, top.sigma2)


def test_image_adversarial_measures_report_invariant_and_raw_tau2():
    from advtransfer.images import measures
    from advtransfer.images.architectures import build_model

    torch.manual_seed(0)
    source = build_model("digits_cnn", 4, 1, [0.3], [0.4]).eval()
    reference = build_model("digits_cnn", 10, 1, [0.3], [0.4]).eval()
    x = torch.rand(6, 1, 8, 8)
    y = torch.tensor([0, 9, 3, 7, 5, 2])
    x_adv = (x + 0.05).clamp(0, 1)
    args = (source, reference, x, y, x_adv, x_adv.flip(0))
    raw = measures.adversarial_measures(*args, jacobian_points=4, jacobian_output="logits")
    default = measures.adversarial_measures(*args, jacobian_points=4)
    assert raw["tau2_logits"] == raw["tau2"]
    assert default["tau2_logits"] == pytest.approx(raw["tau2"], abs=1e-12)
    js = tau.center_outputs(tau.input_jacobians(source, x[:4]).double())
    jr = tau.center_outputs(tau.input_jacobians(reference, x[:4]).double())
    expected = tau.adversarial_transferability(js, jr)
    for k in ("tau1", "tau2", "alpha"):
        assert default[k] == pytest.approx(float(expected[k]), abs=1e-10)
    logsm = measures.adversarial_measures(*args, jacobian_points=4, jacobian_output="log_softmax")
    assert 0 <= logsm["tau1"] <= 1 and logsm["tau2_logits"] == pytest.approx(raw["tau2"])
    feats = measures.adversarial_measures(*args, jacobian_points=4, jacobian_output="features")
    assert feats["tau2_logits"] != feats["tau2_logits"]  # NaN: no logit Jacobians computed
