"""Matrix-free top singular structure and tau measures (core.matrixfree).

Closed forms (linear maps, block-diagonal Jacobians with a known gap), agreement with the
exact path (core.tau / core.theory) on random MLPs and CNNs, sign and seed invariance, the
near-degenerate sigma_1 = sigma_2 decision (reported as not converged) and the
non-converged count on a case built to fail.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advtransfer.core import tau, theory
from advtransfer.core.matrixfree import (
    LinearizedModel,
    adversarial_transferability_matrix_free,
    batchnorm_as_affine,
    gradient_difference_matrix_free,
    tau2_matrix_free,
    top_singular_matrix_free,
    transferability_matrix_matrix_free,
)

KEYS = ("tau1", "tau2", "alpha", "lambda_source", "lambda_target")
PER_POINT = ("tau1_per_sample", "lambda_source_per_sample", "lambda_target_per_sample",
             "sigma1_source", "sigma1_target")


@pytest.fixture(autouse=True)
def _float64_default():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


class Linear(nn.Module):
    """``f(x) = W x`` on flattened inputs."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w.clone())

    def forward(self, x):
        return x.reshape(x.shape[0], -1) @ self.w.T


def mlp(n_in: int, hidden: int, n_out: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(n_in, hidden), nn.Tanh(), nn.Linear(hidden, n_out))


def cnn(d: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(2, 6, 3, padding=1), nn.BatchNorm2d(6), nn.Softplus(),
        nn.Conv2d(6, 8, 3, stride=2, padding=1), nn.Tanh(), nn.Flatten(),
        nn.Linear(8 * 3 * 3, d),
    )


def with_singular_values(s: list[float], d: int, n: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    u, _ = torch.linalg.qr(torch.randn(d, d, generator=gen))
    v, _ = torch.linalg.qr(torch.randn(n, n, generator=gen))
    sig = torch.zeros(d, n)
    sig[range(len(s)), range(len(s))] = torch.tensor(s)
    return u @ sig @ v.T


def exact(source, target, x):
    js, jt = tau.input_jacobians(source, x), tau.input_jacobians(target, x)
    res = tau.adversarial_transferability(js, jt)
    res["grad_diff"] = theory.gradient_difference(js, jt, res["A"])
    return res


def assert_close(mf, ex, keys, atol):
    for key in keys:
        assert torch.allclose(mf[key], ex[key], atol=atol, rtol=0), (key, mf[key], ex[key])


# ---------------------------------------------------------------- closed forms


def test_linear_model_matches_svd():
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(5, 9, generator=gen)
    x = torch.randn(7, 9, generator=gen)
    top = top_singular_matrix_free(Linear(w), x, k=3, tol=1e-12)
    _, s, vh = torch.linalg.svd(w)
    assert top.n_not_converged == 0
    assert torch.allclose(top.sigma, s[:3].expand(7, 3), atol=1e-10)
    for j in range(3):
        assert torch.allclose((top.v[:, :, j] @ vh[j]).abs(), torch.ones(7), atol=1e-9)
    assert torch.allclose(top.jv, torch.einsum("dn,bnk->bdk", w, top.v), atol=1e-10)


def test_block_diagonal_jacobian_with_known_gap():
    # J = blockdiag(B1, B2): singular values {3, 1} u {2.5, 0.5}; top two come from
    # different blocks, with the gap (9 - 6.25) / 9 between them.
    b1 = with_singular_values([3.0, 1.0], 2, 4, seed=1)
    b2 = with_singular_values([2.5, 0.5], 3, 5, seed=2)
    w = torch.block_diag(b1, b2)
    x = torch.randn(4, 9)
    top = top_singular_matrix_free(Linear(w), x, tol=1e-12)
    assert torch.allclose(top.sigma, torch.tensor([3.0, 2.5]).expand(4, 2), atol=1e-10)
    assert torch.allclose(top.ratio, torch.full((4,), 2.5 / 3.0), atol=1e-10)
    assert top.v[:, 4:, 0].abs().max() < 1e-9  # v_1 in block 1
    assert top.v[:, :4, 1].abs().max() < 1e-9  # v_2 in block 2
    assert not top.degenerate.any()


def test_point_dependent_jacobians_match_exact_top_singular():
    model = mlp(10, 24, 6, seed=3)
    x = torch.randn(25, 10)
    top = top_singular_matrix_free(model, x, tol=1e-11, batch_size=7)
    ref = tau.top_singular(tau.input_jacobians(model, x))
    assert top.n_not_converged == 0
    assert torch.allclose(top.sigma1, ref.sigma1, atol=1e-9)
    assert torch.allclose(top.sigma2, ref.sigma2, atol=1e-9)
    assert torch.allclose((top.v1 * ref.v).sum(1).abs(), torch.ones(25), atol=1e-8)


def test_scalar_model_has_zero_sigma2():
    model = mlp(6, 10, 1, seed=4)
    x = torch.randn(9, 6)
    top = top_singular_matrix_free(model, x, tol=1e-12)
    grads = tau.input_jacobians(model, x)[:, 0]
    assert torch.allclose(top.sigma1, grads.norm(dim=1), atol=1e-10)
    assert top.sigma2.abs().max() < 1e-7
    assert top.n_not_converged == 0


# ---------------------------------------------------------------- agreement with exact


@pytest.mark.parametrize("mode", ["autograd", "func"])
@pytest.mark.parametrize("d_s, d_t", [(4, 4), (3, 6), (7, 2)])
def test_mlps_agree_with_exact_path(mode, d_s, d_t):
    source, target = mlp(12, 32, d_s, seed=d_s), mlp(12, 20, d_t, seed=10 + d_t)
    x = torch.randn(40, 12)
    mf = adversarial_transferability_matrix_free(
        source, target, x, tol=1e-11, mode=mode, batch_size=16, with_gradient_difference=True
    )
    ex = exact(source, target, x)
    assert int(mf["n_not_converged"]) == 0
    assert int(mf["n_not_converged_grad_diff"]) == 0
    assert_close(mf, ex, KEYS + PER_POINT + ("A", "r", "grad_diff"), atol=1e-8)
    # deltas agree up to the sign of v_S (per point)
    sign = torch.sign((mf["v_source"] * ex["v_source"]).sum(1, keepdim=True))
    assert torch.allclose(mf["delta_source"] * sign, ex["delta_source"], atol=1e-8)
    assert torch.allclose(mf["delta_target"] * sign, ex["delta_target"], atol=1e-8)
    # Theorem 2 per-point terms work on the matrix-free mapping unchanged
    assert float(theory.theorem2_bound(mf)) == pytest.approx(float(theory.theorem2_bound(ex)),
                                                             rel=1e-8)
    assert float(mf["grad_diff"]) <= float(theory.theorem2_bound(mf)) + 1e-12


@pytest.mark.parametrize("mode", ["autograd", "func"])
def test_cnns_agree_with_exact_path(mode):
    source, target = cnn(5, seed=0), cnn(8, seed=1)
    for model in (source, target):  # non-trivial running statistics for eval-mode BN
        model.train()
        with torch.no_grad():
            model(torch.randn(64, 2, 6, 6))
    x = torch.randn(12, 2, 6, 6)
    mf = adversarial_transferability_matrix_free(
        source, target, x, tol=1e-11, mode=mode, batch_size=5, with_gradient_difference=True
    )
    ex = exact(source, target, x)
    assert int(mf["n_not_converged"]) == 0
    assert_close(mf, ex, KEYS + PER_POINT + ("grad_diff",), atol=1e-8)
    assert source.training and target.training  # modes restored


def test_gradient_difference_matrix_free_matches_gram_route():
    source, target = mlp(8, 16, 3, seed=5), mlp(8, 16, 4, seed=6)
    x = torch.randn(20, 8)
    a = torch.randn(4, 3)
    g, n_bad = gradient_difference_matrix_free(source, target, x, a, tol=1e-12)
    js, jt = tau.input_jacobians(source, x), tau.input_jacobians(target, x)
    svd_route = torch.linalg.matrix_norm(jt - a @ js, ord=2).pow(2).mean()
    assert n_bad == 0
    assert float(g) == pytest.approx(float(svd_route), rel=1e-10)
    assert float(theory.gradient_difference(js, jt, a)) == pytest.approx(float(svd_route),
                                                                         rel=1e-10)


def test_centered_logits_match_exact_centering():
    source, target = mlp(9, 16, 5, seed=7), mlp(9, 16, 5, seed=8)
    x = torch.randn(15, 9)
    mf = adversarial_transferability_matrix_free(source, target, x, tol=1e-11,
                                                 output="centered_logits")
    js = tau.center_outputs(tau.input_jacobians(source, x))
    jt = tau.center_outputs(tau.input_jacobians(target, x))
    ex = tau.adversarial_transferability(js, jt)
    assert_close(mf, ex, KEYS, atol=1e-8)


def test_float32_agrees_to_1e3():
    torch.set_default_dtype(torch.float32)
    source, target = mlp(16, 32, 10, seed=9).float(), mlp(16, 32, 10, seed=10).float()
    x = torch.randn(50, 16)
    mf = adversarial_transferability_matrix_free(source, target, x)
    ex = exact(source, target, x)
    assert mf["tau1"].dtype == torch.float32
    for key in KEYS:
        assert abs(float(mf[key]) - float(ex[key])) <= 1e-3, key


@pytest.mark.parametrize("output", ["logits", "centered_logits", "log_softmax"])
def test_tau2_matrix_free_float32_matches_exact_output_map(output):
    # tau2 on one output map by a source-only solve (tau2_logits beside centred tau2):
    # finite and within 1e-3 of the exact path in float32
    torch.set_default_dtype(torch.float32)
    source, target = mlp(16, 32, 10, seed=13).float(), mlp(16, 32, 10, seed=14).float()
    x = torch.randn(40, 16)
    tau2, n_bad = tau2_matrix_free(source, target, x, output=output)
    with torch.no_grad():
        z_s, z_t = source(x), target(x)
    js = tau.output_jacobians(tau.input_jacobians(source, x), output, z_s)
    jt = tau.output_jacobians(tau.input_jacobians(target, x), output, z_t)
    ex = tau.adversarial_transferability(js, jt)
    full = adversarial_transferability_matrix_free(source, target, x, output=output)
    assert tau2.dtype == torch.float32 and bool(torch.isfinite(tau2)) and n_bad == 0
    assert abs(float(tau2) - float(ex["tau2"])) <= 1e-3
    assert abs(float(full["tau2"]) - float(ex["tau2"])) <= 1e-3
    assert float(tau2) == pytest.approx(float(full["tau2"]), abs=1e-4)  # other start vectors


def test_shared_result_mapping_has_the_same_keys_on_both_paths():
    source, target = mlp(6, 12, 3, seed=15), mlp(6, 12, 4, seed=16)
    x = torch.randn(10, 6)
    mf = adversarial_transferability_matrix_free(source, target, x, tol=1e-11)
    ex = tau.adversarial_transferability(tau.input_jacobians(source, x),
                                         tau.input_jacobians(target, x))
    assert set(ex) <= set(mf)
    for key in ex:
        assert mf[key].shape == ex[key].shape, key


# ---------------------------------------------------------------- invariances


def test_sign_and_seed_invariance():
    source, target = mlp(10, 20, 4, seed=11), mlp(10, 20, 5, seed=12)
    x = torch.randn(30, 10)
    base = adversarial_transferability_matrix_free(source, target, x, tol=1e-11, seed=0)

    class Negated(nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, z):
            return -self.m(z)

    for s, t, seed in ((Negated(source), target, 0), (source, Negated(target), 0),
                       (Negated(source), Negated(target), 3), (source, target, 7)):
        other = adversarial_transferability_matrix_free(s, t, x, tol=1e-11, seed=seed)
        assert_close(other, base, KEYS + ("tau1_per_sample",), atol=1e-9)


# ---------------------------------------------------------------- convergence reporting


@pytest.mark.parametrize("rel_gap", [0.0, 1e-7])
def test_near_degenerate_top_pair_is_reported_not_converged(rel_gap):
    # sigma_1 = sigma_2 (to rel_gap) well separated from sigma_3: v_1 is not determined,
    # so every point is reported as not converged (and degenerate); sigma_1, sigma_2,
    # lambda are still right and v_1 lies in the top-2 right-singular subspace.
    s1 = 2.0 * (1 + rel_gap) ** 0.5
    w = with_singular_values([s1, 2.0, 1.0, 0.5], 4, 8, seed=13)
    x = torch.randn(6, 8)
    top = top_singular_matrix_free(Linear(w), x, tol=1e-10)
    assert top.n_not_converged == 6
    assert bool(top.degenerate.all())
    assert bool((top.residual.amax(1) <= 1e-10).all())  # residuals fine: the gap is the issue
    assert torch.allclose(top.sigma, torch.tensor([s1, 2.0]).expand(6, 2), atol=1e-10)
    _, _, vh = torch.linalg.svd(w)
    proj = top.v1 @ vh[:2].T
    assert torch.allclose(proj.norm(dim=1), torch.ones(6), atol=1e-9)
    res = adversarial_transferability_matrix_free(Linear(w), Linear(w), x, tol=1e-10)
    assert int(res["n_not_converged"]) == 6 and int(res["n_degenerate"]) == 6
    assert torch.allclose(res["lambda_source_per_sample"], torch.full((6,), 2.0 / s1),
                          atol=1e-10)


def test_separated_gap_is_converged():
    w = with_singular_values([2.2, 2.0, 1.0], 3, 8, seed=14)  # relative gap 0.17
    top = top_singular_matrix_free(Linear(w), torch.randn(5, 8), tol=1e-10)
    assert top.n_not_converged == 0 and not top.degenerate.any()


def test_iteration_cap_counts_every_failed_point():
    source, target = mlp(30, 40, 20, seed=15), mlp(30, 40, 20, seed=16)
    x = torch.randn(11, 30)
    res = adversarial_transferability_matrix_free(source, target, x, max_iters=1)
    assert int(res["n_not_converged"]) == 11
    assert not res["converged_source"].any() and not res["converged_target"].any()
    assert bool(torch.isfinite(res["tau1_per_sample"]).all())  # returned, not dropped
    assert res["tau1_per_sample"].shape == (11,)
    ok = adversarial_transferability_matrix_free(source, target, x)
    assert int(ok["n_not_converged"]) == 0


def test_mixed_convergence_is_counted_per_point():
    # points with J = 0 (outputs saturated by relu) converge at once; others need more
    # than one iteration: with a cap of 1 only the live points are counted.
    torch.manual_seed(17)
    model = nn.Sequential(nn.Linear(12, 30), nn.Tanh(), nn.Linear(30, 9))
    gate = nn.ReLU()

    class Gated(nn.Module):
        def forward(self, z):
            return model(z) * gate(z[:, :1])  # J = 0 where z_0 < 0 (and f * 0)

    x = torch.randn(20, 12)
    x[:8, 0] = -1.0
    x[8:, 0] = 1.0
    top = top_singular_matrix_free(Gated(), x, max_iters=1)
    assert top.n_not_converged == 12
    assert bool(top.converged[:8].all()) and not top.converged[8:].any()


def test_eval_mode_restored_per_module_and_used():
    model = nn.Sequential(nn.Linear(6, 12), nn.Dropout(0.5), nn.Tanh(), nn.Linear(12, 3))
    model.train()
    model[3].eval()  # a submodule set apart on purpose
    x = torch.randn(8, 6)
    a = top_singular_matrix_free(model, x, tol=1e-11)
    b = top_singular_matrix_free(model, x, tol=1e-11)  # dropout off: deterministic
    assert torch.allclose(a.sigma, b.sigma, atol=1e-12)
    assert model.training and model[1].training and not model[3].training


def test_rejects_bad_arguments():
    model = mlp(4, 5, 3, seed=0)
    x = torch.randn(3, 4)
    with pytest.raises(ValueError, match="k must be >= 2"):
        top_singular_matrix_free(model, x, k=1)
    with pytest.raises(ValueError, match="mode"):
        top_singular_matrix_free(model, x, mode="nope")
    with pytest.raises(ValueError, match="output"):
        top_singular_matrix_free(model, x, output="probs")
    with pytest.raises(ValueError, match="tol"):
        top_singular_matrix_free(model, x, tol=0.0)


# ---------------------------------------------------------------- numerically zero G


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_identical_source_gives_converged_zero_gradient_difference(dtype):
    # source = target (t = 0 of the synthetic sweep): M = J_T - A J_S is rounding noise
    # (A is fitted, not exactly I); a residual relative to s_1^2 of noise never converges,
    # the absolute floor tied to E ||J_T||^2 makes every point converge with G = 0.
    torch.manual_seed(18)
    target = nn.Sequential(nn.Linear(12, 30), nn.Sigmoid(), nn.Linear(30, 4)).to(dtype)
    source = nn.Sequential(nn.Linear(12, 30), nn.Sigmoid(), nn.Linear(30, 4)).to(dtype)
    source.load_state_dict(target.state_dict())
    x = torch.randn(40, 12, dtype=dtype)
    res = adversarial_transferability_matrix_free(source, target, x, max_iters=30,
                                                  with_gradient_difference=True)
    assert not torch.equal(res["A"], torch.eye(4, dtype=dtype))  # fitted, with rounding
    assert int(res["n_not_converged_grad_diff"]) == 0
    assert float(res["grad_diff"]) == 0.0
    g, n_bad = gradient_difference_matrix_free(source, target, x, res["A"], max_iters=30)
    assert n_bad == 0 and float(g) == 0.0


def test_floor_keeps_small_nonzero_gradient_difference_exact():
    # a source close to the target: G is small but real, and the floor must not hide it
    target = mlp(10, 20, 4, seed=19)
    source = mlp(10, 20, 4, seed=19)
    with torch.no_grad():
        for p in source.parameters():
            p.add_(1e-3 * torch.randn_like(p))
    x = torch.randn(30, 10)
    mf = adversarial_transferability_matrix_free(source, target, x, tol=1e-10,
                                                 with_gradient_difference=True)
    ex = exact(source, target, x)
    assert int(mf["n_not_converged_grad_diff"]) == 0
    assert float(ex["grad_diff"]) > 0
    assert float(mf["grad_diff"]) == pytest.approx(float(ex["grad_diff"]), rel=1e-6)


def test_floor_zero_restores_the_relative_test():
    torch.manual_seed(20)
    target = nn.Sequential(nn.Linear(8, 16), nn.Sigmoid(), nn.Linear(16, 3))
    x = torch.randn(10, 8)
    a = tau.affine_map(*(tau.input_jacobians(target, x)[:, :, :1].squeeze(-1),) * 2)[0]
    _, n_bad = gradient_difference_matrix_free(target, target, x, a + 1e-15, max_iters=5,
                                               floor=0.0)
    assert n_bad == 10  # noise: never converges relative to its own s_1^2
    with pytest.raises(ValueError, match="floor"):
        gradient_difference_matrix_free(target, target, x, a, floor=-1.0)


def test_transferability_matrix_matches_pairwise_exact():
    # three models with different output sizes (a "dense" one among them); entry [t, s]
    models = [mlp(9, 16, 3, seed=21), mlp(9, 16, 40, seed=22), mlp(9, 12, 2, seed=23)]
    x = torch.randn(14, 9)
    mat = transferability_matrix_matrix_free(models, x, tol=1e-11, batch_size=5)
    jacs = [tau.input_jacobians(m, x) for m in models]
    assert int(mat["n_not_converged"].sum()) == 0 and mat["converged"].shape == (3, 14)
    for t in range(3):
        for s_idx in range(3):
            ex = tau.adversarial_transferability(jacs[s_idx], jacs[t])
            for key in ("tau1", "tau2", "alpha"):
                assert float(mat[key][t, s_idx]) == pytest.approx(float(ex[key]), abs=1e-8), \
                    (key, t, s_idx)
    assert torch.allclose(mat["tau1"].diagonal(), torch.ones(3), atol=1e-9)
    assert torch.allclose(mat["tau1"], mat["tau1"].T, atol=1e-12)  # tau1 is symmetric


@pytest.mark.parametrize("n_points, d_s, d_t", [(30, 4, 6), (6, 50, 3), (5, 40, 40)])
def test_thin_directional_matches_affine_map(n_points, d_s, d_t):
    # tau2 / alpha without forming A, also where d_S > N (A* fits the sample exactly and
    # only the norm projection keeps tau2 below 1)
    from advtransfer.core.matrixfree import _directional, _directional_thin

    gen = torch.Generator().manual_seed(n_points + d_s)
    delta_s = torch.randn(n_points, d_s, generator=gen)
    delta_t = delta_s[:, : min(d_s, d_t)] @ torch.randn(min(d_s, d_t), d_t, generator=gen) \
        + 0.3 * torch.randn(n_points, d_t, generator=gen)
    sigma = torch.rand(n_points, generator=gen) + 1.0
    tau2, alpha, _, _ = _directional(delta_s, delta_t, sigma)
    tau2_t, alpha_t = _directional_thin(delta_s, delta_t, sigma)
    assert float(tau2_t) == pytest.approx(float(tau2), abs=1e-10)
    assert float(alpha_t) == pytest.approx(float(alpha), abs=1e-12)


def _randomise_batchnorms(model: nn.Module, seed: int) -> nn.Module:
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=gen))
            m.running_var.copy_(torch.rand(c, generator=gen) * 3 + 0.1)
            with torch.no_grad():
                m.weight.copy_(torch.randn(c, generator=gen))
                m.bias.copy_(torch.randn(c, generator=gen))
    return model.eval()


@pytest.mark.parametrize("kind", ["conv2d", "bn1d_flat", "bn1d_seq"])
def test_batchnorm_as_affine_gives_the_exact_jacobian_products(kind):
    torch.manual_seed(3)
    if kind == "conv2d":
        model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.Tanh(),
                              nn.Flatten(), nn.Linear(4 * 5 * 5, 6))
        x = torch.randn(3, 2, 5, 5)
    elif kind == "bn1d_flat":
        model = nn.Sequential(nn.Linear(7, 5), nn.BatchNorm1d(5), nn.Tanh(), nn.Linear(5, 6))
        x = torch.randn(3, 7)
    else:
        model = nn.Sequential(nn.Conv1d(2, 3, 3, padding=1), nn.BatchNorm1d(3), nn.Tanh(),
                              nn.Flatten(), nn.Linear(3 * 6, 6))
        x = torch.randn(3, 2, 6)
    model = _randomise_batchnorms(model, seed=4)
    jac = tau.input_jacobians(model, x)  # (3, 6, n), plain batch norms
    with torch.no_grad():
        plain = model(x)
    with batchnorm_as_affine(model) as replaced:
        assert replaced == 1
        with torch.no_grad():
            assert torch.allclose(model(x), plain, atol=1e-12)
    assert "forward" not in model[1].__dict__  # restored
    op = LinearizedModel(model, x, block=2)
    v = torch.randn(3, jac.shape[2], 2)
    u = torch.randn(3, 6, 2)
    assert torch.allclose(op.jvp(v), jac @ v, atol=1e-12)
    assert torch.allclose(op.vjp(u), jac.transpose(1, 2) @ u, atol=1e-12)


def test_batchnorm_in_training_mode_or_without_running_stats_is_left_alone():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4),
                          nn.BatchNorm1d(4, track_running_stats=False))
    model.eval()
    model[1].train()
    with batchnorm_as_affine(model) as replaced:
        assert replaced == 0
        assert all("forward" not in m.__dict__ for m in model)
