"""Transferability estimators: closed-form cases, orderings on synthetic data, bad input."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import multivariate_normal

from advtransfer.core import estimators as est


def _clustered(seed: int, n: int = 300, d: int = 8, k: int = 3, sep: float = 4.0, noise=1.0):
    """Features whose class means are ``sep``-scaled random directions, plus noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % k
    centres = sep * rng.normal(size=(k, d))
    return centres[labels] + noise * rng.normal(size=(n, d)), labels


def _random(seed: int, n: int = 300, d: int = 8, k: int = 3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), np.arange(n) % k


# ---------------------------------------------------------------------------------------
# NCE
# ---------------------------------------------------------------------------------------


def test_nce_deterministic_mapping_is_zero():
    z = np.array([0, 1, 2, 3, 4, 5] * 10)
    y = z % 2  # y is a function of z (many-to-one)
    assert est.nce(z, y) == pytest.approx(0.0, abs=1e-12)


def test_nce_independent_labels_is_minus_entropy():
    # every (y, z) pair equally often: Y independent of Z, uniform over 3 classes
    y, z = map(np.ravel, np.meshgrid(np.arange(3), np.arange(4), indexing="ij"))
    y, z = np.tile(y, 5), np.tile(z, 5)
    assert est.nce(z, y) == pytest.approx(-np.log(3), rel=1e-12)


def test_nce_hand_computed():
    z = np.array([0, 0, 0, 1, 1])
    y = np.array([0, 0, 1, 1, 1])
    # H(Y|Z) = P(z=0) H(2/3, 1/3) + P(z=1) * 0
    h = 0.6 * -(2 / 3 * np.log(2 / 3) + 1 / 3 * np.log(1 / 3))
    assert est.nce(z, y) == pytest.approx(-h, rel=1e-12)


# ---------------------------------------------------------------------------------------
# LEEP
# ---------------------------------------------------------------------------------------


def _leep_by_hand(theta: np.ndarray, y: np.ndarray) -> float:
    n, zdim = theta.shape
    classes = np.unique(y)
    joint = np.array([[theta[y == c, z].sum() / n for z in range(zdim)] for c in classes])
    p_z = joint.sum(axis=0)
    total = 0.0
    for i in range(n):
        row = int(np.searchsorted(classes, y[i]))
        # source classes with P(z) = 0 have theta_z = 0 everywhere and contribute nothing
        total += np.log(sum(joint[row, z] / p_z[z] * theta[i, z] for z in range(zdim) if p_z[z]))
    return total / n


def test_leep_one_to_one_map_matches_hand_computation():
    rng = np.random.default_rng(0)
    k, n, smooth = 4, 40, 0.1
    perm = rng.permutation(k)
    y = rng.integers(0, k, n)
    y[:k] = np.arange(k)
    theta = np.full((n, k), smooth / (k - 1))
    theta[np.arange(n), perm[y]] = 1 - smooth  # one-hot-ish, source class = perm(target)
    value = est.leep(theta, y)
    assert value == pytest.approx(_leep_by_hand(theta, y), rel=1e-12)
    # exactly one-hot: the empirical predictor is perfect
    assert est.leep(np.eye(k)[perm[y]], y) == pytest.approx(0.0, abs=1e-12)


def test_leep_random_probs_match_hand_and_prefer_informative():
    rng = np.random.default_rng(1)
    n, k, zdim = 60, 3, 5
    y = np.arange(n) % k
    logits = rng.normal(size=(n, zdim))
    theta = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert est.leep(theta, y) == pytest.approx(_leep_by_hand(theta, y), rel=1e-12)
    informative = np.exp(logits + 4 * np.eye(zdim)[y])
    informative /= informative.sum(axis=1, keepdims=True)
    assert est.leep(informative, y) > est.leep(theta, y)


def test_leep_unused_source_class_and_label_values():
    theta = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.7, 0.3, 0.0], [0.1, 0.9, 0.0]])
    y = np.array([10, 20, 10, 20])
    assert est.leep(theta, y) == pytest.approx(_leep_by_hand(theta, y), rel=1e-12)


# ---------------------------------------------------------------------------------------
# H-score and regularised H-score
# ---------------------------------------------------------------------------------------


def test_h_score_zero_for_class_independent_features_and_higher_when_informative():
    noise, y = _random(0, n=3000, d=5)
    informative, y2 = _clustered(0, n=3000, d=5)
    h_noise = est.h_score(noise, y)
    assert 0.0 <= h_noise < 0.02  # expectation ~ (K-1) d / N = 0.0033
    assert est.h_score(informative, y2) > 1.0
    assert est.h_score(informative, y2) <= min(5, 3 - 1) + 1e-9


def test_h_score_matches_direct_formula_with_singular_covariance():
    f, y = _clustered(3, n=50, d=4)
    f = np.hstack([f, f[:, :1] + f[:, 1:2]])  # rank-deficient covariance
    mu = f.mean(axis=0)
    cov = np.cov(f, rowvar=False, bias=True)
    g = np.stack([f[y == c].mean(axis=0) for c in y])  # E[f | y] per sample
    covg = np.cov(g, rowvar=False, bias=True)
    expected = np.trace(np.linalg.pinv(cov, hermitian=True) @ covg)
    assert est.h_score(f, y) == pytest.approx(expected, rel=1e-8)
    assert np.allclose(g.mean(axis=0), mu)


def test_regularized_h_score_behaviour():
    noise, y = _random(1, n=2000, d=5)
    informative, y2 = _clustered(1, n=2000, d=5)
    assert abs(est.regularized_h_score(noise, y)) < 0.02
    assert est.regularized_h_score(informative, y2) > 1.0
    # never above the unregularised score's bound; close to it when N >> d
    assert est.regularized_h_score(informative, y2) == pytest.approx(
        est.h_score(informative, y2), rel=0.05
    )


def test_regularized_h_score_stable_when_d_exceeds_n():
    informative, y = _clustered(2, n=40, d=100, sep=1.0)
    noise, _ = _random(2, n=40, d=100)
    # the plain H-score saturates (features separate any labelling when d >= N)
    assert est.h_score(noise, y) == pytest.approx(est.h_score(informative, y), rel=1e-6)
    assert est.regularized_h_score(informative, y) > est.regularized_h_score(noise, y)


# ---------------------------------------------------------------------------------------
# LogME
# ---------------------------------------------------------------------------------------


def test_linear_model_log_evidence_matches_gaussian_marginal():
    rng = np.random.default_rng(4)
    for n, d in [(10, 3), (5, 8)]:
        f = rng.normal(size=(n, d))
        y = rng.normal(size=n)
        alpha, beta = 0.7, 2.5
        marginal = multivariate_normal(np.zeros(n), np.eye(n) / beta + f @ f.T / alpha)
        assert est.linear_model_log_evidence(f, y, alpha, beta) == pytest.approx(
            marginal.logpdf(y) / n, rel=1e-10
        )


@pytest.mark.parametrize(("n", "d"), [(12, 3), (8, 15)])
def test_log_me_agrees_with_grid_maximisation(n, d):
    rng = np.random.default_rng(5)
    f = rng.normal(size=(n, d))
    y = f @ rng.normal(size=d) * 0.5 + 0.5 * rng.normal(size=n)
    grid = np.logspace(-3, 3, 121)
    brute = max(
        est.linear_model_log_evidence(f, y, a, b) for a, b in itertools.product(grid, grid)
    )
    value = est.log_me(f, y, regression=True)
    assert value >= brute - 1e-9  # the fixed point is at least as good as any grid point
    assert value == pytest.approx(brute, abs=5e-3)  # and the grid gets close to it


def test_log_me_classification_averages_one_hot_columns():
    f, y = _clustered(6, n=90, d=4)
    per_column = [est.log_me(f, (y == c).astype(float), regression=True) for c in range(3)]
    assert est.log_me(f, y) == pytest.approx(np.mean(per_column), rel=1e-12)


def test_log_me_prefers_informative_features_classification():
    informative, y = _clustered(7, n=400, d=10, sep=2.0)
    noise, _ = _random(7, n=400, d=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # converges, also when alpha -> inf (noise)
        assert est.log_me(informative, y) > est.log_me(noise, y)


def test_log_me_prefers_informative_features_regression():
    rng = np.random.default_rng(8)
    n, d = 300, 6
    informative = rng.normal(size=(n, d))
    targets = informative @ rng.normal(size=(d, 2)) + 0.1 * rng.normal(size=(n, 2))
    noise = rng.normal(size=(n, d))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        good = est.log_me(informative, targets, regression=True)
        bad = est.log_me(noise, targets, regression=True)
    assert good > bad


def test_log_me_n_smaller_than_d_is_finite():
    f, y = _clustered(9, n=20, d=50)
    assert np.isfinite(est.log_me(f, y))


def test_log_me_warns_when_iteration_cap_is_hit():
    f, y = _clustered(10, n=50, d=4, sep=0.5)
    with pytest.warns(RuntimeWarning, match="did not converge"):
        est.log_me(f, y, max_iter=1)


# ---------------------------------------------------------------------------------------
# TransRate
# ---------------------------------------------------------------------------------------


def test_transrate_larger_for_separable_features():
    separable, y = _clustered(11, n=300, d=8)
    noise, _ = _random(11, n=300, d=8)
    assert est.transrate(separable, y) > est.transrate(noise, y) + 1.0


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000))
def test_transrate_invariant_to_feature_permutation(seed):
    f, y = _clustered(seed % 50, n=60, d=6)
    perm = np.random.default_rng(seed).permutation(6)
    assert est.transrate(f[:, perm], y) == pytest.approx(est.transrate(f, y), rel=1e-9)


def test_transrate_matches_logdet_formula_and_options():
    f, y = _clustered(12, n=40, d=5)
    eps = 0.5
    z = f - f.mean(axis=0)

    def rate(a):
        n, d = a.shape
        return 0.5 * np.linalg.slogdet(np.eye(d) + d / (n * eps**2) * a.T @ a)[1]

    proportional = rate(z) - sum((y == c).mean() * rate(z[y == c]) for c in range(3))
    uniform = rate(z) - sum(rate(z[y == c]) / 3 for c in range(3))
    assert est.transrate(f, y, eps) == pytest.approx(proportional, rel=1e-10)
    assert est.transrate(f, y, eps, class_weighting="uniform") == pytest.approx(uniform, rel=1e-10)
    assert est.transrate(3.0 * f + 1.0, y, eps, normalize=True) == pytest.approx(
        est.transrate(f, y, eps, normalize=True), rel=1e-10
    )


# ---------------------------------------------------------------------------------------
# GBC
# ---------------------------------------------------------------------------------------


def test_gbc_higher_for_well_separated_classes():
    far, y = _clustered(13, n=300, d=6, sep=5.0)
    near, y2 = _clustered(13, n=300, d=6, sep=0.3)
    assert est.gbc(far, y) > est.gbc(near, y2)
    assert -3 * 2 <= est.gbc(near, y2) <= est.gbc(far, y) <= 0.0
    assert est.gbc(far, y, pca_dim=3) > est.gbc(near, y2, pca_dim=3)
    assert est.gbc(far, y, covariance="spherical") > est.gbc(near, y2, covariance="spherical")


def test_gbc_identical_classes_and_two_gaussians_closed_form():
    rng = np.random.default_rng(14)
    x = rng.normal(size=(200, 3))
    twin = np.vstack([x, x])  # two classes with identical empirical distributions
    labels = np.repeat([0, 1], 200)
    assert est.gbc(twin, labels) == pytest.approx(-2.0, rel=1e-12)
    # two 1-D classes {-1-s, -1+s}, {1-s, 1+s}: means -1, 1, variance s^2
    s = 0.5
    f = np.array([[-1 - s], [-1 + s], [1 - s], [1 + s]])
    d_b = (2.0**2) / (8 * s**2)
    assert est.gbc(f, np.array([0, 0, 1, 1])) == pytest.approx(-2 * np.exp(-d_b), rel=1e-12)


# ---------------------------------------------------------------------------------------
# kNN
# ---------------------------------------------------------------------------------------


def test_knn_accuracy_one_on_clustered_data():
    f, y = _clustered(15, n=120, d=5, sep=10.0, noise=0.1)
    assert est.knn_accuracy(f, y, k=5) == 1.0
    assert est.knn_accuracy(f[:90], y[:90], f[90:], y[90:], k=3) == 1.0
    assert est.knn_accuracy(f, y, k=5, metric="euclidean") == 1.0


def test_knn_accuracy_chance_on_noise_and_raw_labels():
    f, y = _random(16, n=600, d=5, k=4)
    assert est.knn_accuracy(f, y, k=7) < 0.4
    # label values need not be 0..K-1, and eval labels may miss classes
    g, lab = _clustered(17, n=60, d=3, sep=10.0, noise=0.1)
    raw = np.array([7, -2, 40])[lab]
    assert est.knn_accuracy(g[:45], raw[:45], g[45:][raw[45:] == 7], raw[45:][raw[45:] == 7]) == 1.0


def test_knn_hand_example_with_tie_break():
    train = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    labels = np.array([0, 0, 1, 1])
    query = np.array([[1.0, 0.05], [0.05, 1.0]])
    assert est.knn_accuracy(train, labels, query, np.array([0, 1]), k=1) == 1.0
    # k=2 on the first query: nearest is class 0, second nearest class 0 as well
    assert est.knn_accuracy(train, labels, query, np.array([0, 1]), k=2) == 1.0
    # tie (one vote each) goes to the class of the nearest neighbour
    tie_train = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert est.knn_accuracy(tie_train, [0, 1], [[1.0, 0.2]], [0], k=2) == 1.0
    assert est.knn_accuracy(tie_train, [0, 1], [[0.2, 1.0]], [1], k=2) == 1.0


# ---------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------

_F, _Y = _clustered(18, n=30, d=4)
_THETA = np.full((30, 5), 0.2)

_FEATURE_ESTIMATORS = [
    est.h_score,
    est.regularized_h_score,
    est.log_me,
    est.transrate,
    est.gbc,
    est.knn_accuracy,
    est.leep,
    est.nleep,
    est.sfda,
    est.ncti_components,
]


@pytest.mark.parametrize("fn", _FEATURE_ESTIMATORS)
def test_feature_estimators_reject_bad_input(fn):
    good = _THETA if fn is est.leep else _F
    with pytest.raises(ValueError, match="2-D"):
        fn(good[:, 0], _Y)
    bad = good.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fn(bad, _Y)
    with pytest.raises(ValueError, match="shape"):
        fn(good, _Y[:-1])
    with pytest.raises(ValueError, match="at least 2 distinct classes"):
        fn(good, np.zeros(30, dtype=int))
    with pytest.raises(ValueError, match="integer"):
        fn(good, _Y + 0.5)
    with pytest.raises(ValueError, match="integer"):
        fn(good, np.array(["a", "b"] * 15))
    fn(good, _Y.astype(float))  # integral floats are accepted


def test_specific_bad_arguments():
    with pytest.raises(ValueError, match="at least 2 distinct"):
        est.nce(np.arange(10), np.zeros(10, dtype=int))
    with pytest.raises(ValueError, match="shape"):
        est.nce(np.arange(9), np.arange(10) % 2)
    with pytest.raises(ValueError, match="non-negative"):
        est.leep(-_THETA, _Y)
    with pytest.raises(ValueError, match="sum to 1"):
        est.leep(2 * _THETA, _Y)
    with pytest.raises(ValueError, match="eps"):
        est.transrate(_F, _Y, eps=0.0)
    with pytest.raises(ValueError, match="class_weighting"):
        est.transrate(_F, _Y, class_weighting="size")
    with pytest.raises(ValueError, match="pca_dim"):
        est.gbc(_F, _Y, pca_dim=0)
    with pytest.raises(ValueError, match="covariance"):
        est.gbc(_F, _Y, covariance="full")
    with pytest.raises(ValueError, match="k must"):
        est.knn_accuracy(_F, _Y, k=0)
    with pytest.raises(ValueError, match="N - 1"):
        est.knn_accuracy(_F, _Y, k=30)
    with pytest.raises(ValueError, match="together"):
        est.knn_accuracy(_F, _Y, _F)
    with pytest.raises(ValueError, match="columns"):
        est.knn_accuracy(_F, _Y, _F[:, :2], _Y)
    with pytest.raises(ValueError, match="metric"):
        est.knn_accuracy(_F, _Y, metric="manhattan")
    with pytest.raises(ValueError, match="targets"):
        est.log_me(_F, np.ones((30, 2)) * np.nan, regression=True)
    with pytest.raises(ValueError, match="identically zero"):
        est.log_me(_F, np.zeros(30), regression=True)
    with pytest.raises(ValueError, match="max_iter"):
        est.log_me(_F, _Y, max_iter=0)
    with pytest.raises(ValueError, match="alpha"):
        est.linear_model_log_evidence(_F, _F[:, 0], 0.0, 1.0)


# ---------------------------------------------------------------------------------------
# NLEEP
# ---------------------------------------------------------------------------------------


def test_nleep_one_component_is_minus_label_entropy():
    # one mixture component: every posterior is 1, so NLEEP = sum_c pi_c log pi_c
    f = np.random.default_rng(0).normal(size=(8, 3))
    y = np.array([0, 0, 0, 1, 1, 1, 1, 2])
    pi = np.array([3, 4, 1]) / 8
    assert est.nleep(f, y, n_components=1) == pytest.approx(np.sum(pi * np.log(pi)), rel=1e-9)


def test_nleep_components_that_each_cover_one_class_score_zero():
    # four far-apart clusters, two per class: the 4-component mixture recovers them, its
    # posteriors are one-hot and P(y | v) is 0 or 1, so log of the expected prediction is 0
    rng = np.random.default_rng(1)
    corners = np.array([[100.0, 100.0], [-100.0, 100.0], [100.0, -100.0], [-100.0, -100.0]])
    cluster = np.arange(80) % 4
    f = corners[cluster] + rng.normal(size=(80, 2))
    y = cluster % 2
    assert est.nleep(f, y, n_components=4, pca_variance=1.0) == pytest.approx(0.0, abs=1e-9)
    # two components on clusters split far apart left/right and slightly up/down: the
    # mixture takes the left/right halves, each half holds both up/down labels equally,
    # P(y | v) = 1/2 and NLEEP = log(1/2)
    flat = np.array([[100.0, 10.0], [-100.0, 10.0], [100.0, -10.0], [-100.0, -10.0]])
    g = flat[cluster] + rng.normal(size=(80, 2))
    up = (flat[cluster][:, 1] > 0).astype(int)
    assert est.nleep(g, up, n_components=2, pca_variance=1.0) == pytest.approx(
        np.log(0.5), abs=1e-9)


def test_nleep_is_scale_invariant_and_prefers_clustered_features():
    good, y = _clustered(2, n=240, d=6, k=3, sep=3.0)
    bad, _ = _random(2, n=240, d=6, k=3)
    assert est.nleep(good, y) == pytest.approx(est.nleep(7.0 * good, y), abs=1e-9)
    assert est.nleep(good, y) > est.nleep(bad, y)
    with pytest.raises(ValueError, match="pca_variance"):
        est.nleep(good, y, pca_variance=1.5)
    with pytest.raises(ValueError, match="covariance"):
        est.nleep(good, y, covariance="banded")


# ---------------------------------------------------------------------------------------
# SFDA
# ---------------------------------------------------------------------------------------


def _sfda_1d(x, y, a=1.0):
    """SFDA of 1-D features with two classes, from the scalar formulas of the docstring."""
    x = np.asarray(x, float) - np.mean(x)
    y = np.asarray(y)

    def posteriors(v):
        mu = np.array([v[y == c].mean() for c in (0, 1)])
        s_w = np.mean((v - mu[y]) ** 2)
        lam = np.exp(-a * s_w)
        s = (1 - lam) * s_w + lam
        z, m = v / np.sqrt(s), mu / np.sqrt(s)
        logit = z[:, None] * m[None, :] - m[None, :] ** 2 / 2 + np.log([np.mean(y == 0),
                                                                        np.mean(y == 1)])
        p = np.exp(logit - logit.max(axis=1, keepdims=True))
        return p / p.sum(axis=1, keepdims=True), mu

    p, mu = posteriors(x)
    conf = p[np.arange(len(x)), y]
    mixed = conf * x + (1 - conf) * mu[1 - y]  # the other class is the most confused one
    p2, _ = posteriors(mixed)
    return float(np.mean(p2[np.arange(len(x)), y]))


def test_sfda_hand_computed_one_dimensional_case():
    x = np.array([0.0, 1.0, 2.0, 4.0, 5.0, 7.0])
    y = np.array([0, 0, 0, 1, 1, 1])
    assert est.sfda(x[:, None], y) == pytest.approx(_sfda_1d(x, y), rel=1e-9)
    x2 = np.array([0.0, 0.3, 0.1, 0.5, 0.2, 0.9, 0.4])  # overlapping classes, small scatter
    y2 = np.array([0, 0, 1, 1, 0, 1, 1])
    assert est.sfda(x2[:, None], y2) == pytest.approx(_sfda_1d(x2, y2), rel=1e-9)
    assert est.sfda(x2[:, None], y2, a=5.0) == pytest.approx(_sfda_1d(x2, y2, a=5.0), rel=1e-9)


def test_sfda_separated_classes_near_one_and_orders_features():
    good, y = _clustered(3, sep=6.0)
    assert est.sfda(good, y) > 0.99
    assert est.sfda(good, y) > est.sfda(_clustered(3, sep=0.5)[0], y) > est.sfda(
        _random(3)[0], y)
    with pytest.raises(ValueError, match="a must"):
        est.sfda(good, y, a=0.0)


# ---------------------------------------------------------------------------------------
# NCTI
# ---------------------------------------------------------------------------------------


def test_ncti_components_hand_computed():
    # three tight, far-apart classes of 20: the nearest-centre posteriors are one-hot
    rng = np.random.default_rng(4)
    y = np.arange(60) % 3
    f = np.array([[0.0, 0.0, 0.0], [50.0, 0.0, 0.0], [0.0, 50.0, 0.0]])[y] \
        + rng.normal(size=(60, 3))
    got = est.ncti_components(f, y)
    assert got["ncc"] == pytest.approx(1.0, abs=1e-9)
    # a one-hot (60 x 3) matrix with 20 ones per column has singular values sqrt(20)
    assert got["seli"] == pytest.approx(3 * np.sqrt(20) / 60, rel=1e-9)
    # S_vc from the singular values of the class deviations of the unit-RMS features
    # (the PCA keeps all 3 components, a rotation, which leaves nuclear norms unchanged)
    centred = f - f.mean(axis=0)
    rms = np.sqrt(np.mean(np.sum(centred**2, axis=1)))
    nuc = sum(np.linalg.svd((f[y == c] - f[y == c].mean(axis=0)) / rms,
                            compute_uv=False).sum() for c in range(3))
    assert got["vc"] == pytest.approx(-nuc / 60, rel=1e-9)


def test_pool_normalized_sum_hand_example():
    comps = np.array([[0.0, 1.0, 2.0], [1.0, 3.0, 2.0], [2.0, 5.0, 2.0]])
    np.testing.assert_allclose(est.pool_normalized_sum(comps), [0.0, 1.0, 2.0])
    comps[1, 0] = np.nan
    got = est.pool_normalized_sum(comps)
    assert np.isnan(got[1]) and got[0] == 0.0 and got[2] == 2.0
    with pytest.raises(ValueError, match="2-D"):
        est.pool_normalized_sum([1.0, 2.0])


def test_ncti_ranks_collapsed_features_first():
    y = np.arange(300) % 3
    pool = [_clustered(5, sep=s)[0] for s in (0.0, 1.0, 6.0)]
    scores = est.ncti(pool, y)
    assert scores[2] == pytest.approx(3.0) and scores[0] == pytest.approx(0.0)
    assert scores[0] < scores[1] < scores[2]


# ---------------------------------------------------------------------------------------
# ETran
# ---------------------------------------------------------------------------------------


def test_etran_components_hand_computed():
    y = np.array([0, 0, 1, 1])
    logits = np.array([[0.0, 0.0], [np.log(3.0), 0.0], [0.0, np.log(3.0)], [0.0, 0.0]])
    # features orthogonal (after centring) to the centred one-hot labels: S_reg = -|Y_c|^2/N
    f = np.array([[1.0], [-1.0], [1.0], [-1.0]])
    got = est.etran_components(f, logits, y, reg_variance=1.0)
    assert got["energy"] == pytest.approx((np.log(2) + np.log(4)) / 2, rel=1e-12)
    assert got["reg"] == pytest.approx(-8 * 0.25 / 4, rel=1e-12)
    # features spanning the labels: the regression residual vanishes and LDA is certain
    f2 = np.array([[0.0], [0.01], [10.0], [10.01]])
    got2 = est.etran_components(f2, logits, y, reg_variance=1.0)
    # residual of each centred label column (norm^2 1, <f, Y> = -+10, |f|^2 = 100.0001)
    assert got2["reg"] == pytest.approx(-2 * (1 - 100 / 100.0001) / 4, rel=1e-6)
    assert got2["cls"] == pytest.approx(1.0, abs=1e-6)
    assert got2["energy"] == got["energy"]  # energy depends on the logits only


def test_etran_pool_combines_energy_and_classification():
    y = np.arange(300) % 3
    good, _ = _clustered(6, sep=6.0)
    bad, _ = _random(6)
    confident = np.eye(3)[y] * 8.0
    flat = np.zeros((300, 3))
    scores = est.etran([good, bad], [confident, flat], y)
    np.testing.assert_allclose(scores, [2.0, 0.0])
    with pytest.raises(ValueError, match="rows"):
        est.etran_components(good, flat[:10], y)
