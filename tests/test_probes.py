"""Tests of advtransfer.core.probes: frozen features, linear and k-shot probes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from torch import nn

from advtransfer.core.probes import (
    LinearProbe,
    choose_C_by_validation,
    extract_features,
    fit_linear_probe,
    kshot_probe,
    sample_kshot_indices,
)


class TinyNet(nn.Module):
    """Classifier with a `features` method: 64 pixels -> 16 ReLU features -> 10 logits."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.BatchNorm1d(16),
                                  nn.ReLU())
        self.head = nn.Linear(16, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@pytest.fixture(scope="module")
def digits_split() -> dict[str, np.ndarray]:
    """Digits pixels as features: a fixed train/test split."""
    data = load_digits()
    x = data.images.reshape(len(data.images), -1) / 16.0
    y = data.target
    order = np.random.default_rng(0).permutation(len(y))
    train, test = order[:1200], order[1200:]
    return {"x_train": x[train], "y_train": y[train], "x_test": x[test], "y_test": y[test]}


@pytest.fixture(scope="module")
def probe(digits_split) -> LinearProbe:
    return fit_linear_probe(digits_split["x_train"], digits_split["y_train"], C=0.5)


# ---------------------------------------------------------------- extract_features
def test_extract_features_matches_eval_mode_forward_and_restores_mode():
    torch.manual_seed(0)
    model = TinyNet()
    x = torch.rand(37, 1, 8, 8)
    model.train()
    with torch.no_grad():
        model(x)  # move BatchNorm running statistics away from the defaults
    model.eval()
    with torch.no_grad():
        expected = model.features(x)
    model.train()
    got = extract_features(model, x, batch_size=8)
    assert got.shape == (37, 16)
    torch.testing.assert_close(got, expected)  # eval-mode BN: batch size does not matter
    assert model.training and model.body.training
    assert not got.requires_grad
    assert all(p.grad is None for p in model.parameters())


def test_extract_features_needs_features_method():
    with pytest.raises(ValueError, match="features"):
        extract_features(nn.Linear(4, 2), torch.rand(3, 4))
    with pytest.raises(ValueError, match="batch_size"):
        extract_features(TinyNet(), torch.rand(3, 1, 8, 8), batch_size=0)


# ---------------------------------------------------------------- fit_linear_probe
def test_probe_matches_sklearn_on_standardised_features(digits_split, probe):
    x_train, y_train = digits_split["x_train"], digits_split["y_train"]
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std[std == 0] = 1.0
    reference = LogisticRegression(C=0.5, solver="lbfgs", max_iter=1000, tol=1e-6)
    reference.fit((x_train - mean) / std, y_train)

    np.testing.assert_allclose(probe.mean, mean, atol=1e-12)
    np.testing.assert_allclose(probe.scale, std, atol=1e-12)
    np.testing.assert_allclose(probe.estimator.coef_, reference.coef_, atol=1e-6)
    np.testing.assert_allclose(probe.estimator.intercept_, reference.intercept_, atol=1e-6)
    x_test = digits_split["x_test"]
    np.testing.assert_allclose(probe.predict_proba(x_test),
                               reference.predict_proba((x_test - mean) / std), atol=1e-6)
    assert probe.predict_proba(x_test).shape == (len(x_test), 10)


def test_probe_is_multinomial_softmax(digits_split, probe):
    """Probabilities are the softmax of W z + b (one weight row per class)."""
    x = digits_split["x_test"][:20]
    z = (x - probe.mean) / probe.scale
    logits = z @ probe.estimator.coef_.T + probe.estimator.intercept_
    soft = np.exp(logits - logits.max(axis=1, keepdims=True))
    soft /= soft.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(probe.predict_proba(x), soft, atol=1e-10)
    weight, bias = probe.affine_map()
    np.testing.assert_allclose(x @ weight.T + bias, logits, atol=1e-9)


def test_evaluate_matches_hand_computation(digits_split, probe):
    x_test, y_test = digits_split["x_test"], digits_split["y_test"]
    proba = probe.predict_proba(x_test)
    accuracy = np.mean(np.argmax(proba, axis=1) == y_test)
    loss = np.mean([-np.log(proba[i, y_test[i]]) for i in range(len(y_test))])
    result = probe.evaluate(x_test, y_test)
    assert result["accuracy"] == pytest.approx(accuracy, abs=1e-12)
    assert result["loss"] == pytest.approx(loss, rel=1e-12)
    assert result["n"] == len(y_test)
    assert result["accuracy"] > 0.9
    # tensors are accepted too
    result_t = probe.evaluate(torch.tensor(x_test, dtype=torch.float64), torch.tensor(y_test))
    assert result_t["loss"] == pytest.approx(result["loss"], rel=1e-12)


def test_standardisation_uses_training_statistics_only(digits_split):
    x_train, y_train = digits_split["x_train"], digits_split["y_train"]
    shifted_test = digits_split["x_test"] + 10.0
    probe = fit_linear_probe(x_train, y_train)
    assert np.allclose(probe.mean, x_train.mean(axis=0))
    # a shift of the test features is not absorbed by re-standardising the test set
    assert probe.evaluate(shifted_test, digits_split["y_test"])["accuracy"] < 0.5


def test_non_contiguous_labels_and_binary_case():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-2, 1, (40, 3)), rng.normal(2, 1, (40, 3))])
    y = np.repeat([3, 7], 40)
    probe = fit_linear_probe(x, y)
    assert probe.classes.tolist() == [3, 7]
    assert set(probe.predict(x)) <= {3, 7}
    assert probe.evaluate(x, y)["accuracy"] > 0.95
    with pytest.raises(ValueError, match="not among the training classes"):
        probe.evaluate(x[:2], np.array([3, 5]))


def test_loss_clips_zero_probabilities():
    x = np.concatenate([np.full((20, 1), -50.0), np.full((20, 1), 50.0)])
    y = np.repeat([0, 1], 20)
    probe = fit_linear_probe(x, y, C=1e6, standardize=False)
    result = probe.evaluate(x, 1 - y)  # every label wrong with probability ~0
    assert np.isfinite(result["loss"]) and result["loss"] <= -np.log(1e-12) + 1e-9
    assert result["accuracy"] == 0.0


@pytest.mark.parametrize(
    "kwargs, match",
    [({"C": 0.0}, "C"), ({"C": -1.0}, "C"), ({"max_iter": 0}, "max_iter"),
     ({"tol": 0.0}, "tol"), ({"blas_threads": 0}, "blas_threads")],
)
def test_fit_bad_arguments(digits_split, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit_linear_probe(digits_split["x_train"], digits_split["y_train"], **kwargs)


def test_fit_bad_data():
    with pytest.raises(ValueError, match="2-D"):
        fit_linear_probe(np.zeros(5), np.zeros(5, dtype=int))
    with pytest.raises(ValueError, match="shape"):
        fit_linear_probe(np.zeros((5, 2)), np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match="two classes"):
        fit_linear_probe(np.random.rand(5, 2), np.zeros(5, dtype=int))
    with pytest.raises(ValueError, match="NaN"):
        fit_linear_probe(np.full((4, 2), np.nan), np.array([0, 1, 0, 1]))


# ---------------------------------------------------------------- k-shot
def test_kshot_indices_take_k_per_class_without_replacement():
    labels = np.repeat([0, 1, 2], [5, 8, 3])
    index = sample_kshot_indices(labels, k=3, seed=1)
    assert len(index) == len(set(index.tolist())) == 9
    assert np.bincount(labels[index]).tolist() == [3, 3, 3]
    assert np.array_equal(index, sample_kshot_indices(labels, k=3, seed=1))
    with pytest.raises(ValueError, match="fewer|only"):
        sample_kshot_indices(labels, k=4, seed=0)
    with pytest.raises(ValueError, match="k"):
        sample_kshot_indices(labels, k=0, seed=0)


def test_kshot_probe_reproducible_and_seed_dependent(digits_split):
    args = (digits_split["x_train"], digits_split["y_train"],
            digits_split["x_test"], digits_split["y_test"])
    first = kshot_probe(*args, k=2, draws=3, seed=11)
    again = kshot_probe(*args, k=2, draws=3, seed=11)
    other = kshot_probe(*args, k=2, draws=3, seed=12)
    assert first == again
    assert first["accuracy_per_draw"] != other["accuracy_per_draw"]
    # draw d uses seed + d: seeds 11 and 12 share two draws
    assert first["accuracy_per_draw"][1:] == other["accuracy_per_draw"][:2]
    assert len(first["accuracy_per_draw"]) == 3 and first["k"] == 2 and first["draws"] == 3
    assert first["accuracy_mean"] == pytest.approx(np.mean(first["accuracy_per_draw"]))
    assert first["accuracy_std"] == pytest.approx(np.std(first["accuracy_per_draw"], ddof=1))
    assert first["loss_mean"] == pytest.approx(np.mean(first["loss_per_draw"]))
    assert 0.3 < first["accuracy_mean"] < 1.0


def test_kshot_single_draw_matches_direct_fit(digits_split):
    x_train, y_train = digits_split["x_train"], digits_split["y_train"]
    result = kshot_probe(x_train, y_train, digits_split["x_test"], digits_split["y_test"],
                         k=3, draws=1, seed=4, C=0.3)
    index = sample_kshot_indices(y_train, k=3, seed=4)
    direct = fit_linear_probe(x_train[index], y_train[index], C=0.3)
    expected = direct.evaluate(digits_split["x_test"], digits_split["y_test"])
    assert result["accuracy_per_draw"] == [expected["accuracy"]]
    assert result["accuracy_std"] == 0.0


def test_kshot_k_too_large_raises(digits_split):
    with pytest.raises(ValueError, match="only"):
        kshot_probe(digits_split["x_train"], digits_split["y_train"],
                    digits_split["x_test"], digits_split["y_test"], k=10_000, draws=1, seed=0)
    with pytest.raises(ValueError, match="draws"):
        kshot_probe(digits_split["x_train"], digits_split["y_train"],
                    digits_split["x_test"], digits_split["y_test"], k=1, draws=0, seed=0)


# ---------------------------------------------------------------- choose C
def test_choose_C_by_validation_picks_from_grid(digits_split):
    x_train, y_train = digits_split["x_train"], digits_split["y_train"]
    grid = (1e-4, 0.1, 1.0)
    result = choose_C_by_validation(x_train, y_train, grid=grid, seed=0)
    assert result["C"] in grid
    assert [s["C"] for s in result["scores"]] == sorted(grid)
    best = min(result["scores"], key=lambda s: s["loss"])
    assert result["C"] == best["C"]
    assert result["C"] != 1e-4  # heavy regularisation underfits digits

    # explicit validation set (a slice of training data; the test split is never passed)
    explicit = choose_C_by_validation(x_train[:900], y_train[:900], x_train[900:],
                                      y_train[900:], grid=grid, criterion="accuracy")
    assert explicit["C"] in grid
    with pytest.raises(ValueError, match="criterion"):
        choose_C_by_validation(x_train, y_train, grid=grid, criterion="auc")
    with pytest.raises(ValueError, match="both"):
        choose_C_by_validation(x_train, y_train, x_train, grid=grid)
    with pytest.raises(ValueError, match="grid"):
        choose_C_by_validation(x_train, y_train, grid=())


def test_knowledge_measures_choose_C_on_validation_and_record_it(digits_split):
    """The full probe's C comes from the grid by validation loss; the test split is unused."""
    from advtransfer.images.measures import knowledge_measures

    torch.manual_seed(0)
    net = TinyNet().eval()
    as_images = lambda a: torch.as_tensor(a, dtype=torch.float32).reshape(-1, 1, 8, 8)
    x, y = digits_split["x_train"], torch.as_tensor(digits_split["y_train"])
    train, val = (as_images(x[:900]), y[:900]), (as_images(x[900:]), y[900:])
    test = (as_images(digits_split["x_test"]), torch.as_tensor(digits_split["y_test"]))
    grid = (1e-4, 0.1, 1.0)
    row = knowledge_measures(net, train, test, C=1.0, C_grid=grid, val=val)
    feats = {k: extract_features(net, v[0]).numpy() for k, v in (("train", train), ("val", val))}
    expected = choose_C_by_validation(feats["train"], train[1].numpy(), feats["val"],
                                      val[1].numpy(), grid=grid)["C"]
    assert row["probe_C"] == expected and row["probe_C"] != 1e-4
    refit = fit_linear_probe(feats["train"], train[1].numpy(), C=expected)
    assert row["probe_accuracy"] == pytest.approx(
        refit.evaluate(extract_features(net, test[0]).numpy(), test[1].numpy())["accuracy"])
    # the test split cannot steer the choice: other test images, same C
    other = knowledge_measures(net, train, (test[0][:50], test[1][:50]), C_grid=grid, val=val)
    assert other["probe_C"] == row["probe_C"]
    # without a validation split a stratified part of the training data is held out
    carved = knowledge_measures(net, train, test, C_grid=grid)
    assert carved["probe_C"] in grid
    fixed = knowledge_measures(net, train, test, C=0.5)
    assert fixed["probe_C"] == 0.5
