"""Linear probes: knowledge transferability of a frozen feature extractor.

Reference: Liang et al., §4 (knowledge transferability) and docs/method.md §6. The source model's
feature extractor is frozen (eval mode), its last layer is replaced by a new affine map
fitted on target training data, and target test loss and accuracy are reported. For
classification the new layer is a multinomial logistic regression, fitted exactly with
L-BFGS on cached features (scikit-learn's ``LogisticRegression``), instead of epochs of SGD
over images. Where a full-data probe saturates, a k-shot probe (k labelled examples per
class, several seeded draws) separates the sources better.

Model selection never looks at the test split: :func:`choose_C_by_validation` picks the
L2 strength on a validation split carved out of the training data.

Everything here is pure: arrays in, arrays / numbers / a fitted probe out; no printing,
no file I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits
from torch import Tensor, nn

from advtransfer.core.checks import check_positive_int
from advtransfer.core.modelutils import eval_mode

__all__ = [
    "LinearProbe",
    "extract_features",
    "fit_linear_probe",
    "sample_kshot_indices",
    "kshot_probe",
    "choose_C_by_validation",
]

#: Smallest probability used inside the cross-entropy (avoids log(0) = -inf).
PROBABILITY_FLOOR = 1e-12

ArrayLike = Tensor | np.ndarray | Sequence[float]


def _as_features(features: ArrayLike, name: str) -> np.ndarray:
    """Float64 numpy copy of a (N, k) feature matrix, checked."""
    if isinstance(features, Tensor):
        array = features.detach().cpu().to(torch.float64).numpy()
    else:
        array = np.asarray(features, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D (N, k), got shape {array.shape}")
    if array.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _as_labels(labels: ArrayLike, n: int, name: str) -> np.ndarray:
    """Integer numpy copy of a (N,) label vector, checked against the feature count."""
    if isinstance(labels, Tensor):
        array = labels.detach().cpu().numpy()
    else:
        array = np.asarray(labels)
    if array.ndim != 1 or array.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},), got {array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        if np.issubdtype(array.dtype, np.floating) and np.all(array == np.round(array)):
            array = array.astype(np.int64)
        else:
            raise ValueError(f"{name} must hold integer class labels, got dtype {array.dtype}")
    return array.astype(np.int64, copy=False)


def _check_positive(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value) \
            or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")




@dataclass(frozen=True)
class LinearProbe:
    """A fitted multinomial logistic-regression head on (optionally standardised) features.

    Attributes:
        estimator: The fitted ``sklearn.linear_model.LogisticRegression``.
        mean: Per-feature training mean used for standardisation (zeros if disabled).
        scale: Per-feature training standard deviation (ones if disabled; constant
            features get scale 1).
        classes: Class labels, in the order of the probability columns.
    """

    estimator: LogisticRegression
    mean: np.ndarray
    scale: np.ndarray
    classes: np.ndarray

    def _transform(self, features: ArrayLike) -> np.ndarray:
        array = _as_features(features, "features")
        if array.shape[1] != self.mean.shape[0]:
            raise ValueError(
                f"features have {array.shape[1]} columns, the probe was fitted on "
                f"{self.mean.shape[0]}"
            )
        return (array - self.mean) / self.scale

    def decision_function(self, features: ArrayLike) -> np.ndarray:
        """Logits of the probe (for two classes: the single log-odds column), (N, K)."""
        return self.estimator.decision_function(self._transform(features))

    def predict_proba(self, features: ArrayLike) -> np.ndarray:
        """Class probabilities, shape (N, K), columns ordered as :attr:`classes`."""
        return self.estimator.predict_proba(self._transform(features))

    def predict(self, features: ArrayLike) -> np.ndarray:
        """Predicted class labels, shape (N,)."""
        return self.classes[np.argmax(self.predict_proba(features), axis=1)]

    def evaluate(self, features: ArrayLike, labels: ArrayLike) -> dict[str, float]:
        """Accuracy and mean cross-entropy of the probe.

        Formula::

            accuracy    = mean_i c_i,   c_i = 1[argmax_c p_ic = y_i]
            accuracy_se = sqrt(mean_i (c_i - accuracy)^2 / N)
            loss        = mean_i -log(max(p_{i y_i}, 1e-12))

        ``accuracy_se`` is the standard error of the accuracy under resampling of the N
        test examples with replacement: the exact (infinite-replicate) bootstrap standard
        error of the mean of the per-example correctness c_i, which for 0/1 values equals
        the binomial plug-in ``sqrt(accuracy (1 - accuracy) / N)``.

        Args:
            features: Features (N, k) from the same extractor as the training features.
            labels: True labels (N,); every label must be one of :attr:`classes`.

        Returns:
            ``{"accuracy": float, "accuracy_se": float, "loss": float, "n": int}``.

        Raises:
            ValueError: shape mismatch or a label the probe never saw in training.
        """
        proba = self.predict_proba(features)
        y = _as_labels(labels, proba.shape[0], "labels")
        column = np.searchsorted(self.classes, y)
        column = np.clip(column, 0, len(self.classes) - 1)
        unseen = self.classes[column] != y
        if np.any(unseen):
            raise ValueError(
                f"labels {sorted(set(y[unseen].tolist()))} were not among the training "
                f"classes {self.classes.tolist()}"
            )
        picked = np.clip(proba[np.arange(len(y)), column], PROBABILITY_FLOOR, 1.0)
        correct = (np.argmax(proba, axis=1) == column).astype(np.float64)
        accuracy = float(np.mean(correct))
        se = float(np.sqrt(np.mean((correct - accuracy) ** 2) / len(y)))
        return {"accuracy": accuracy, "accuracy_se": se,
                "loss": float(np.mean(-np.log(picked))), "n": int(len(y))}

    def affine_map(self) -> tuple[np.ndarray, np.ndarray]:
        """The probe as one affine layer on *raw* features: logits = features @ W.T + b.

        Folds the standardisation into the weights, W = coef / scale and
        b = intercept - coef @ (mean / scale), so the probe can replace a model's last
        ``nn.Linear``. For two classes scikit-learn stores one log-odds row.

        Returns:
            ``(W, b)`` with shapes (K, k) and (K,) (K = 1 for two classes).
        """
        coef = self.estimator.coef_
        weight = coef / self.scale
        bias = self.estimator.intercept_ - coef @ (self.mean / self.scale)
        return weight, bias


def extract_features(
    model: nn.Module,
    x: Tensor,
    batch_size: int = 512,
    device: str | torch.device = "cpu",
) -> Tensor:
    """Frozen features of a classifier, ``model.features(x)``, computed in batches.

    Paper: Liang et al., §4; docs/method.md §6 -- the source's feature extractor stays frozen and
    in eval mode (BatchNorm in train mode would couple samples and drift statistics).

    The model must already live on ``device``; batches of ``x`` are moved there. Each
    submodule's train/eval flag is restored afterwards. Features with more than two
    dimensions are flattened to (N, k).

    Args:
        model: Module with a ``features(x) -> (N, k)`` method.
        x: Inputs in [0, 1].
        batch_size: Inputs per forward pass.
        device: Device the model lives on.

    Shape:
        x: (N, C, H, W); output: (N, k).

    Returns:
        Detached float CPU tensor of features.

    Raises:
        ValueError: ``model`` has no ``features`` method, bad ``batch_size``, empty ``x``.
    """
    if not callable(getattr(model, "features", None)):
        raise ValueError("model must have a callable `features(x) -> (N, k)` method")
    check_positive_int(batch_size, "batch_size")
    if not isinstance(x, Tensor) or x.dim() < 1 or x.shape[0] == 0:
        raise ValueError("x must be a non-empty torch.Tensor with a batch dimension")
    pieces: list[Tensor] = []
    with eval_mode(model), torch.no_grad():
        for begin in range(0, x.shape[0], batch_size):
            feats = model.features(x[begin : begin + batch_size].to(device))
            pieces.append(feats.reshape(feats.shape[0], -1).detach().cpu())
    return torch.cat(pieces, dim=0)


def fit_linear_probe(
    train_features: ArrayLike,
    train_labels: ArrayLike,
    *,
    C: float = 1.0,
    max_iter: int = 1000,
    tol: float = 1e-6,
    standardize: bool = True,
    blas_threads: int | None = 1,
) -> LinearProbe:
    r"""Fit a multinomial logistic-regression probe (new last layer) on frozen features.

    Paper: Liang et al., §4 (knowledge transferability); docs/method.md §6.

    Formula (z = standardised features, statistics from the training set only)::

        z_i = (h_i - mean) / std
        min_{W, b}  1/2 ||W||_F^2 + C sum_i -log softmax(W z_i + b)_{y_i}

    solved by L-BFGS in float64 (scikit-learn ``LogisticRegression(solver="lbfgs")``; with
    more than two classes the loss is the multinomial cross-entropy, with two classes
    scikit-learn fits the equivalent single log-odds model).

    Args:
        train_features: Training features.
        train_labels: Training labels (any integers; at least two distinct classes).
        C: Inverse L2 regularisation strength, > 0.
        max_iter: L-BFGS iteration cap.
        tol: L-BFGS stopping tolerance (tighter than scikit-learn's 1e-4 default, so the
            probe is close to the exact optimum).
        standardize: Standardise features with the training mean and std.
        blas_threads: BLAS threads during the fit (restored afterwards). The default 1
            avoids a clash between OpenBLAS's and PyTorch's OpenMP thread pools that made
            L-BFGS fits 5-15x slower on 2 cores, for small and large (20000 x 256)
            problems alike; ``None`` leaves the BLAS setting alone.

    Shape:
        train_features: (N, k); train_labels: (N,).

    Returns:
        A fitted :class:`LinearProbe`.

    Raises:
        ValueError: bad shapes, NaN features, fewer than two classes, C <= 0, bad
            ``max_iter``, ``tol`` or ``blas_threads``.
    """
    features = _as_features(train_features, "train_features")
    labels = _as_labels(train_labels, features.shape[0], "train_labels")
    _check_positive(C, "C")
    check_positive_int(max_iter, "max_iter")
    _check_positive(tol, "tol")
    if blas_threads is not None:
        check_positive_int(blas_threads, "blas_threads")
    if np.unique(labels).size < 2:
        raise ValueError("train_labels must contain at least two classes")
    if standardize:
        mean = features.mean(axis=0)
        scale = features.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
    else:
        mean = np.zeros(features.shape[1])
        scale = np.ones(features.shape[1])
    estimator = LogisticRegression(C=float(C), solver="lbfgs", max_iter=int(max_iter),
                                   tol=float(tol))
    if blas_threads is not None:
        with threadpool_limits(limits=int(blas_threads), user_api="blas"):
            estimator.fit((features - mean) / scale, labels)
    else:
        estimator.fit((features - mean) / scale, labels)
    return LinearProbe(estimator=estimator, mean=mean, scale=scale,
                       classes=np.asarray(estimator.classes_))


def sample_kshot_indices(labels: ArrayLike, *, k: int, seed: int) -> np.ndarray:
    """Indices of k examples per class, drawn without replacement.

    Classes are visited in sorted order and each draws ``k`` of its indices with
    ``np.random.default_rng(seed).choice(..., replace=False)``, so the draw is a pure
    function of (labels, k, seed).

    Args:
        labels: Class labels.
        k: Examples per class, >= 1.
        seed: Seed of ``np.random.default_rng``.

    Shape:
        labels: (N,); output: (k * n_classes,), sorted ascending.

    Returns:
        Integer index array into ``labels``.

    Raises:
        ValueError: ``k < 1`` or some class has fewer than ``k`` examples.
    """
    check_positive_int(k, "k")
    y = _as_labels(labels, len(labels), "labels")
    classes, counts = np.unique(y, return_counts=True)
    short = classes[counts < k]
    if short.size:
        raise ValueError(
            f"k={k} examples per class requested, but classes {short.tolist()} have only "
            f"{counts[counts < k].tolist()} examples"
        )
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(y == c), size=k, replace=False) for c in classes]
    return np.sort(np.concatenate(chosen))


def kshot_probe(
    train_features: ArrayLike,
    train_labels: ArrayLike,
    test_features: ArrayLike,
    test_labels: ArrayLike,
    *,
    k: int,
    draws: int,
    seed: int,
    C: float = 1.0,
    max_iter: int = 1000,
    standardize: bool = True,
) -> dict[str, Any]:
    """k-shot linear probe: fit on k examples per class, repeat over seeded draws.

    See docs/method.md §6: where a full-data probe saturates, a k-shot probe separates sources.

    Draw ``d`` (0-based) uses ``np.random.default_rng(seed + d)`` to pick ``k`` training
    examples per class without replacement (:func:`sample_kshot_indices`), fits
    :func:`fit_linear_probe` on them (standardisation statistics from those examples only)
    and evaluates on the full test set.

    Args:
        train_features, train_labels: Training pool, (N, k_feat) and (N,).
        test_features, test_labels: Test set, (M, k_feat) and (M,).
        k: Examples per class, >= 1.
        draws: Number of independent draws, >= 1.
        seed: Base seed.
        C, max_iter, standardize: Passed to :func:`fit_linear_probe`.

    Returns:
        Dict with ``accuracy_mean``, ``accuracy_std``, ``loss_mean``, ``loss_std``
        (std with ddof = 1 across draws, 0.0 for a single draw), ``accuracy_per_draw`` and
        ``loss_per_draw`` (lists of floats), ``k`` and ``draws``.

    Raises:
        ValueError: ``k`` or ``draws`` < 1, some class with fewer than ``k`` examples,
            or the checks of :func:`fit_linear_probe`.
    """
    check_positive_int(k, "k")
    check_positive_int(draws, "draws")
    train_x = _as_features(train_features, "train_features")
    train_y = _as_labels(train_labels, train_x.shape[0], "train_labels")
    test_x = _as_features(test_features, "test_features")
    test_y = _as_labels(test_labels, test_x.shape[0], "test_labels")
    accuracies: list[float] = []
    losses: list[float] = []
    for draw in range(draws):
        index = sample_kshot_indices(train_y, k=k, seed=seed + draw)
        probe = fit_linear_probe(train_x[index], train_y[index], C=C, max_iter=max_iter,
                                 standardize=standardize)
        scores = probe.evaluate(test_x, test_y)
        accuracies.append(scores["accuracy"])
        losses.append(scores["loss"])
    ddof = 1 if draws > 1 else 0
    return {
        "accuracy_mean": float(np.mean(accuracies)),
        "accuracy_std": float(np.std(accuracies, ddof=ddof)),
        "loss_mean": float(np.mean(losses)),
        "loss_std": float(np.std(losses, ddof=ddof)),
        "accuracy_per_draw": accuracies,
        "loss_per_draw": losses,
        "k": int(k),
        "draws": int(draws),
    }


def choose_C_by_validation(
    train_features: ArrayLike,
    train_labels: ArrayLike,
    val_features: ArrayLike | None = None,
    val_labels: ArrayLike | None = None,
    *,
    grid: Sequence[float] = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0),
    val_fraction: float = 0.2,
    seed: int = 0,
    criterion: str = "loss",
    max_iter: int = 1000,
    standardize: bool = True,
) -> dict[str, Any]:
    """Pick the probe's inverse L2 strength C on a validation split (never the test split).

    See docs/method.md §6: models, epochs and C are never selected on the test split.

    If ``val_features``/``val_labels`` are not given, a stratified ``val_fraction`` of the
    training data (``sklearn.model_selection.train_test_split`` with ``random_state=seed``)
    becomes the validation set. Each C in ``grid`` is fitted on the remaining training data
    and scored on validation; the best C minimises validation loss (``criterion="loss"``)
    or maximises accuracy (``"accuracy"``, ties broken by loss); among equal scores the
    smallest C (strongest regularisation) wins. Refit on all training data with the chosen
    C afterwards.

    Args:
        train_features, train_labels: Training data, (N, k) and (N,).
        val_features, val_labels: Optional explicit validation data.
        grid: Candidate values of C, all > 0.
        val_fraction: Held-out fraction when no validation set is given, in (0, 1).
        seed: Seed of the split.
        criterion: ``"loss"`` or ``"accuracy"``.
        max_iter, standardize: Passed to :func:`fit_linear_probe`.

    Returns:
        ``{"C": best C, "scores": [{"C", "accuracy", "loss"} per grid value]}``.

    Raises:
        ValueError: empty grid, non-positive C, bad fraction or criterion, only one of
            the validation arrays given.
    """
    from sklearn.model_selection import train_test_split

    if len(grid) == 0:
        raise ValueError("grid must contain at least one value of C")
    for value in grid:
        _check_positive(value, "every C in grid")
    if criterion not in ("loss", "accuracy"):
        raise ValueError(f"criterion must be 'loss' or 'accuracy', got {criterion!r}")
    if (val_features is None) != (val_labels is None):
        raise ValueError("give both val_features and val_labels, or neither")
    fit_x = _as_features(train_features, "train_features")
    fit_y = _as_labels(train_labels, fit_x.shape[0], "train_labels")
    if val_features is None:
        if not (isinstance(val_fraction, Real) and 0.0 < val_fraction < 1.0):
            raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
        counts = np.bincount(fit_y)
        counts = counts[counts > 0]
        n_val = max(int(round(val_fraction * len(fit_y))), len(counts))  # one per class
        if counts.min() < 2 or len(fit_y) - n_val < len(counts):
            raise ValueError(
                f"too few training samples ({len(fit_y)}, smallest class {counts.min()}) to "
                "hold out a stratified validation split for choosing C; give validation "
                "data or a fixed C (probe.C_grid: null)"
            )
        fit_x, val_x, fit_y, val_y = train_test_split(
            fit_x, fit_y, test_size=n_val, random_state=seed, stratify=fit_y
        )
    else:
        val_x = _as_features(val_features, "val_features")
        val_y = _as_labels(val_labels, val_x.shape[0], "val_labels")
    scores = []
    for value in sorted(float(c) for c in grid):
        probe = fit_linear_probe(fit_x, fit_y, C=value, max_iter=max_iter,
                                 standardize=standardize)
        result = probe.evaluate(val_x, val_y)
        scores.append({"C": value, "accuracy": result["accuracy"], "loss": result["loss"]})
    if criterion == "loss":
        best = min(scores, key=lambda s: s["loss"])
    else:
        best = min(scores, key=lambda s: (-s["accuracy"], s["loss"]))
    return {"C": best["C"], "scores": scores}
