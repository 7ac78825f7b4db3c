"""Data and summary tables of the attributes scenario (Liang et al. §4.3; docs/method.md §9.3).

Sources are binary attribute classifiers, the reference is a recognition model trained
on identities. Adversarial transferability of an attribute = the reference's loss on
identity labels under that attribute model's label-free PGD images, normalised by the
maximum over attributes. Knowledge transferability = verification accuracy of the
attribute model's backbone embedding used, untrained, as a recognition feature
(:mod:`advtransfer.attributes.verification`), plus a k-shot linear probe on identities.

Two back-ends build the data:

* ``digits`` (embedded, offline): scikit-learn's 8x8 digits; identity = digit class.
  Attributes (:data:`DIGITS_ATTRIBUTES`) are either functions of the class (even, prime,
  greater than four, closed loop) or of the image only (ink, width, slant, ...), each
  image statistic cut at its median over the whole data set. A held-out pool of images
  never used in training gives the verification pairs (``digits``, and ``digits_shift``
  with the fixed domain shift of :func:`advtransfer.images.datasets.domain_shift`) and the
  identity probe.
* ``celeba`` (paper scale): CelebA's official train partition (identities seen by the
  reference) split per identity into train / val / test; its test partition (unseen
  identities) gives the identity probe; insightface ``.bin`` files give the verification
  pairs.

Files: ``target`` holds ``x_<split>``, identity labels ``y_<split>`` and one label tensor
``attr_<name>_<split>`` per attribute (0/1); its metadata lists the label sets
(:func:`advtransfer.images.imagesets.load_labels`,
:func:`advtransfer.images.imagesets.label_classes`). ``probe`` holds ``x_train, y_train, x_test,
y_test``; each verification benchmark holds ``x`` (2P images, pair i = 2i, 2i+1) and
``issame``.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from advtransfer.core import names as core_names
from advtransfer.images import datasets

__all__ = [
    "attribute_kind",
    "DIGITS_ATTRIBUTES",
    "DIGIT_BENCHMARKS",
    "ADVERSARIAL_MEASURES",
    "attribute_names",
    "attribute_label_key",
    "digits_attribute_values",
    "make_pairs",
    "check_config",
    "check_inputs",
    "build_datasets",
    "recognition_measures",
    "recognition_columns",
    "transfer_table",
    "per_attribute",
    "table1",
]

logger = logging.getLogger(__name__)

#: Attributes of the digits back-end: name -> description. The first four are functions
#: of the identity (digit class), the others of the image alone.
DIGITS_ATTRIBUTES: dict[str, str] = {
    "even": "the digit is even (0, 2, 4, 6, 8)",
    "prime": "the digit is prime (2, 3, 5, 7)",
    "greater_than_four": "the digit is greater than four (5-9)",
    "closed_loop": "the digit has a closed loop (0, 6, 8, 9; this data's handwritten 4 is open)",
    "ink": "total ink above the median",
    "width": "horizontal spread of the ink (ink-weighted std of the column) above the median",
    "slant": "leans right more than the median (ink-weighted -cov(column, row) / var(row))",
    "top_heavy": "ink centroid higher than the median",
    "thick": "strokes darker than the median (ink-weighted mean intensity)",
    "left_heavy": "ink centroid further left than the median",
}
_CLASS_ATTRIBUTES: dict[str, frozenset[int]] = {
    "even": frozenset({0, 2, 4, 6, 8}),
    "prime": frozenset({2, 3, 5, 7}),
    "greater_than_four": frozenset({5, 6, 7, 8, 9}),
    "closed_loop": frozenset({0, 6, 8, 9}),
}
def attribute_kind(name: str) -> str:
    """Whether an attribute is a function of the identity or of the image alone.

    The paper's point (Table 1): attributes tied to the identity should transfer to face
    recognition better than attributes of the image alone. Digits attributes are one or the
    other by construction; CelebA's 40 are not classified here (``"CelebA attribute"``).
    """
    if name in _CLASS_ATTRIBUTES:
        return "tied to the identity (digit class)"
    if name in DIGITS_ATTRIBUTES:
        return "of the image alone"
    return "CelebA attribute"


#: Verification benchmarks of the digits back-end.
DIGIT_BENCHMARKS: tuple[str, ...] = ("digits", "digits_shift")
#: The adversarial measures of :mod:`advtransfer.core.names`, under the
#: same names as every other scenario (``cross_adv_loss`` first).
ADVERSARIAL_MEASURES = core_names.ADVERSARIAL_MEASURES


# ---------------------------------------------------------------------------------------
# Attribute names and labels
# ---------------------------------------------------------------------------------------
def attribute_names(cfg: Mapping[str, Any]) -> list[str]:
    """The attributes of a config section (``null`` = every attribute of the data set).

    Raises:
        ValueError: an unknown attribute (the message lists the valid names) or a repeat.
    """
    if cfg["dataset"] == "celeba":
        from advtransfer.attributes.celeba import CELEBA_ATTRIBUTES as known
    else:
        known = tuple(DIGITS_ATTRIBUTES)
    names = list(known) if cfg.get("attributes") is None else list(cfg["attributes"])
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f"unknown {cfg['dataset']} attribute(s) {unknown} in attributes.attributes; "
            f"valid names: {', '.join(known)}"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"attributes.attributes repeats a name: {names}")
    if not names:
        raise ValueError("attributes.attributes is empty; list at least two attributes")
    return names


def attribute_label_key(name: str) -> str:
    """Name of an attribute's label tensors in the target file: ``attr_<name>``."""
    return f"attr_{name}"


def digits_attribute_values(x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Every digits attribute of every image, 0/1 (int64).

    Image statistics use the intensities w(r, c) of each 8x8 image as weights: ink
    ``m = sum w``, centroid ``(r_bar, c_bar)``, ``width = sqrt(E_w (c - c_bar)^2)``,
    ``slant = -cov_w(c, r) / var_w(r)`` (row grows downwards, so a top leaning right
    gives a positive slant), ``thick = sum w^2 / m``. Each statistic is cut at its median
    over ``x`` (value > median -> 1; ``top_heavy`` and ``left_heavy``: centroid below the
    median row / column index -> 1), so call it on the whole data set for fixed
    thresholds.

    Shape:
        x: (N, 1, H, W) in [0, 1]; y: (N,) digit classes; every output: (N,).
    """
    w = np.asarray(x, dtype=np.float64)[:, 0]
    rows = np.arange(w.shape[1], dtype=np.float64)[None, :, None]
    cols = np.arange(w.shape[2], dtype=np.float64)[None, None, :]
    mass = w.sum(axis=(1, 2))
    safe = np.where(mass > 0, mass, 1.0)
    r_bar = (w * rows).sum(axis=(1, 2)) / safe
    c_bar = (w * cols).sum(axis=(1, 2)) / safe
    dr, dc = rows - r_bar[:, None, None], cols - c_bar[:, None, None]
    var_r = (w * dr**2).sum(axis=(1, 2)) / safe
    var_c = (w * dc**2).sum(axis=(1, 2)) / safe
    cov = (w * dr * dc).sum(axis=(1, 2)) / safe
    stats = {
        "ink": mass,
        "width": np.sqrt(var_c),
        "slant": -cov / np.where(var_r > 0, var_r, 1.0),
        "top_heavy": -r_bar,
        "thick": (w**2).sum(axis=(1, 2)) / safe,
        "left_heavy": -c_bar,
    }
    out = {name: np.isin(y, sorted(members)).astype(np.int64)
           for name, members in _CLASS_ATTRIBUTES.items()}
    for name, value in stats.items():
        out[name] = (value > np.median(value)).astype(np.int64)
    return {name: out[name] for name in DIGITS_ATTRIBUTES}


def make_pairs(
    labels: np.ndarray, n_pairs: int, *, folds: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Verification pairs in ``folds`` contiguous blocks, each half "same", half "different".

    A "same" pair draws a class uniformly and two distinct images of it; a "different"
    pair draws two distinct classes and one image of each. Pairs are shuffled within
    their fold, so the contiguous folds of :func:`verification_accuracy` are balanced.

    Returns:
        ``(first, second, issame)``: index arrays into ``labels`` and the flags, (P,).

    Raises:
        ValueError: fewer pairs than folds, or a class with a single image.
    """
    y = np.asarray(labels)
    if n_pairs < folds:
        raise ValueError(f"need at least {folds} pairs (one per fold), got {n_pairs}")
    classes = np.unique(y)
    members = {c: np.flatnonzero(y == c) for c in classes}
    single = [int(c) for c in classes if len(members[c]) < 2]
    if single or len(classes) < 2:
        raise ValueError(f"pairs need >= 2 classes with >= 2 images each; short classes {single}")
    rng = np.random.default_rng(seed)
    first, second, same = [], [], []
    for size in (len(b) for b in np.array_split(np.arange(n_pairs), folds)):
        flags = np.arange(size) < (size + 1) // 2
        rng.shuffle(flags)
        for flag in flags:
            if flag:
                c = rng.choice(classes)
                a, b = rng.choice(members[c], size=2, replace=False)
            else:
                c1, c2 = rng.choice(classes, size=2, replace=False)
                a, b = rng.choice(members[c1]), rng.choice(members[c2])
            first.append(a)
            second.append(b)
            same.append(bool(flag))
    return np.asarray(first), np.asarray(second), np.asarray(same)


def _interleave(x: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    out = np.empty((2 * len(first), *x.shape[1:]), dtype=x.dtype)
    out[0::2], out[1::2] = x[first], x[second]
    return out


# ---------------------------------------------------------------------------------------
# Data sets
# ---------------------------------------------------------------------------------------
def check_config(cfg: Mapping[str, Any]) -> None:
    """Checks of an ``attributes`` section that need no files (run when the DAG is built).

    Raises:
        ValueError: unknown attribute names, digits benchmarks other than
            :data:`DIGIT_BENCHMARKS`, or split fractions that do not sum to 1.
    """
    attribute_names(cfg)
    if cfg["dataset"] == "digits":
        unknown = [b for b in cfg["verification"]["benchmarks"] if b not in DIGIT_BENCHMARKS]
        if unknown:
            raise ValueError(
                f"attributes.verification.benchmarks: {unknown} are not digits benchmarks; "
                f"with dataset: digits use {', '.join(DIGIT_BENCHMARKS)} (the .bin "
                "benchmarks need dataset: celeba)"
            )
    if abs(sum(cfg["split"]) - 1.0) > 1e-6:
        raise ValueError(f"attributes.split must sum to 1, got {cfg['split']}")


def check_inputs(cfg: Mapping[str, Any]) -> None:
    """Check every input file of a config section before any expensive work.

    Digits need nothing. CelebA needs ``<data_root>/celeba`` (downloaded first when
    ``download`` is set) and one ``<bin_dir>/<benchmark>.bin`` per verification benchmark.

    Raises:
        datasets.DatasetNotFoundError: listing every missing CelebA path and every
            missing benchmark by name and path, with the fix.
        ValueError: a digits config names a benchmark other than :data:`DIGIT_BENCHMARKS`.
    """
    check_config(cfg)
    ver = cfg["verification"]
    if cfg["dataset"] == "digits":
        return
    from advtransfer.attributes import celeba, verification

    problems = []
    try:
        celeba.check_celeba(cfg["data_root"], download=cfg["download"])
    except datasets.DatasetNotFoundError as err:
        problems.append(str(err))
    missing = verification.missing_benchmarks(ver["bin_dir"], ver["benchmarks"])
    if missing:
        problems.append(
            f"{len(missing)} verification benchmark(s) missing under bin_dir "
            f"{ver['bin_dir']!r}:\n  " + "\n  ".join(missing)
            + "\nFix: copy the insightface .bin files (e.g. from the faces_emore / MS1M "
            "release) there, or drop the missing names from attributes.verification.benchmarks."
        )
    if problems:
        raise datasets.DatasetNotFoundError("\n".join(problems))


def _split_arrays(x: np.ndarray, y: np.ndarray, parts: Mapping[str, np.ndarray],
                  extra: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for split, idx in parts.items():
        if len(idx) == 0:
            continue
        out[f"x_{split}"], out[f"y_{split}"] = x[idx], y[idx]
        for key, values in (extra or {}).items():
            out[f"{key}_{split}"] = values[idx]
    return out


def _label_sets(names: Sequence[str]) -> dict[str, list[str]]:
    return {attribute_label_key(n): [f"not {n}", n] for n in names}


def build_datasets(cfg: Mapping[str, Any], threads: int = 1) -> dict[str, Any]:
    """Build the target, probe and verification data of the attributes scenario.

    Args:
        cfg: the ``attributes`` config section (``schemas/scenarios/attributes.schema.yaml``).
        threads: image-decoding threads (CelebA).

    Returns:
        ``{"target": {"arrays", "meta"}, "probe": {"arrays", "meta"},
        "pairs": {benchmark: {"arrays": {"x", "issame"}, "meta"}}}``.

    Raises:
        datasets.DatasetNotFoundError / ValueError: see :func:`check_inputs`.
    """
    check_inputs(cfg)
    if cfg["dataset"] == "digits":
        return _build_digits(cfg)
    if cfg["dataset"] == "celeba":
        return _build_celeba(cfg, threads)
    raise ValueError(f"unknown dataset {cfg['dataset']!r}; choose digits or celeba")


def _build_digits(cfg: Mapping[str, Any]) -> dict[str, Any]:
    names = attribute_names(cfg)
    seed = cfg["split_seed"]
    x, y = datasets.load_digits_images()
    values = digits_attribute_values(x, y)
    labels = {attribute_label_key(n): values[n] for n in names}
    pools = datasets.split_indices(y, (1.0 - cfg["holdout"], cfg["holdout"], 0.0), seed=seed)
    train_pool, held = pools["train"], pools["val"]
    parts = datasets.split_indices(y[train_pool], cfg["split"], seed=seed)
    target = _split_arrays(
        x[train_pool], y[train_pool], parts, {k: v[train_pool] for k, v in labels.items()}
    )
    classes = list(datasets.DIGITS_CLASS_NAMES)
    out: dict[str, Any] = {
        "target": {
            "arrays": target,
            "meta": {"classes": classes, "domain": "digits (training pool)",
                     "attributes": names, "label_sets": _label_sets(names)},
        }
    }
    xh, yh = x[held], y[held]
    split = cfg["probe"]["split"]
    probe_parts = datasets.split_indices(yh, (split, 1.0 - split, 0.0), seed=seed)
    out["probe"] = {
        "arrays": _split_arrays(
            xh, yh, {"train": probe_parts["train"], "test": probe_parts["val"]}
        ),
        "meta": {"classes": classes, "domain": "digits (held-out pool)"},
    }
    ver = cfg["verification"]
    first, second, issame = make_pairs(yh, ver["pairs"], folds=ver["folds"], seed=ver["seed"])
    out["pairs"] = {}
    for bench in ver["benchmarks"]:
        images = xh if bench == "digits" else datasets.domain_shift(xh, "digits_shift")
        out["pairs"][bench] = {
            "arrays": {"x": _interleave(images, first, second), "issame": issame.astype(np.uint8)},
            "meta": {"benchmark": bench, "domain": f"digits held-out pool ({bench})"},
        }
    return out


def _build_celeba(cfg: Mapping[str, Any], threads: int) -> dict[str, Any]:
    """CelebA back-end: the target (train partition), the identity probe, the pair sets."""
    from advtransfer.attributes import celeba

    index = celeba.read_celeba_index(cfg["data_root"])
    return {
        "target": _celeba_target(cfg, index, threads),
        "probe": _celeba_probe(cfg, index, threads),
        "pairs": _celeba_pairs(cfg),
    }


def _celeba_target(cfg: Mapping[str, Any], index: Any, threads: int) -> dict[str, Any]:
    """Train partition: identity labels, the attribute label sets, train/val/test splits."""
    from advtransfer.attributes import celeba

    names = attribute_names(cfg)
    seed, size, crop = cfg["split_seed"], cfg["image_size"], cfg["crop"]
    columns = [index.attribute_names.index(n) for n in names]
    train_rows = np.flatnonzero(index.partition == celeba.PARTITIONS["train"])
    identities = np.unique(index.identity[train_rows])
    y = np.searchsorted(identities, index.identity[train_rows]).astype(np.int64)
    parts = datasets.split_indices(y, cfg["split"], seed=seed)
    logger.info("CelebA train partition: %d images of %d identities; decoding at %d px (%s)",
                len(train_rows), len(identities), size, crop)
    x = celeba.load_faces(cfg["data_root"], index.filenames[train_rows],
                          index.landmarks[train_rows], size=size, crop=crop, threads=threads)
    labels = {attribute_label_key(n): index.attributes[train_rows, c].astype(np.int64)
              for n, c in zip(names, columns)}
    return {
        "arrays": _split_arrays(x, y, parts, labels),
        "meta": {"classes": [str(i) for i in identities],
                 "domain": f"CelebA train partition, {crop} crop, {size} px",
                 "attributes": names, "label_sets": _label_sets(names)},
    }


def _celeba_probe(cfg: Mapping[str, Any], index: Any, threads: int) -> dict[str, Any]:
    """Identity probe on unseen identities of the test partition (k-shot needs 2k images)."""
    from advtransfer.attributes import celeba

    seed, size, crop = cfg["split_seed"], cfg["image_size"], cfg["crop"]
    probe_cfg = cfg["probe"]
    test_rows = np.flatnonzero(index.partition == celeba.PARTITIONS["test"])
    ids, counts = np.unique(index.identity[test_rows], return_counts=True)
    need = max(2, 2 * probe_cfg["kshot"]["k"])
    eligible = ids[counts >= need]
    if len(eligible) < 2:
        raise ValueError(
            f"the CelebA test partition has {len(eligible)} identities with >= {need} images; "
            "the identity probe needs two (lower attributes.probe.kshot.k)"
        )
    rng = np.random.default_rng(seed)
    n_id = len(eligible) if probe_cfg["identities"] is None else min(probe_cfg["identities"],
                                                                       len(eligible))
    chosen = np.sort(rng.choice(eligible, size=n_id, replace=False))
    rows = test_rows[np.isin(index.identity[test_rows], chosen)]
    yp = np.searchsorted(chosen, index.identity[rows]).astype(np.int64)
    xp = celeba.load_faces(cfg["data_root"], index.filenames[rows], index.landmarks[rows],
                           size=size, crop=crop, threads=threads)
    split = probe_cfg["split"]
    pp = datasets.split_indices(yp, (split, 1.0 - split, 0.0), seed=seed)
    return {
        "arrays": _split_arrays(xp, yp, {"train": pp["train"], "test": pp["val"]}),
        "meta": {"classes": [str(i) for i in chosen],
                 "domain": f"CelebA test partition (unseen identities), {crop} crop, {size} px"},
    }


def _celeba_pairs(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The insightface verification benchmarks (``.bin`` files) as pair sets."""
    from advtransfer.attributes import verification

    ver, size = cfg["verification"], cfg["image_size"]
    pairs = {}
    for bench in ver["benchmarks"]:
        path = verification.bin_path(ver["bin_dir"], bench)
        images, issame = verification.load_bin_pairs(path, size=size)
        pairs[bench] = {
            "arrays": {"x": images, "issame": issame.astype(np.uint8)},
            "meta": {"benchmark": bench, "domain": str(path)},
        }
    return pairs


# ---------------------------------------------------------------------------------------
# Knowledge transferability of one model
# ---------------------------------------------------------------------------------------
def recognition_measures(
    model: torch.nn.Module,
    pairs: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
    probe_train: tuple[torch.Tensor, torch.Tensor],
    probe_test: tuple[torch.Tensor, torch.Tensor],
    *,
    flip: bool,
    folds: int,
    C: float,
    kshot: Mapping[str, Any],
    C_grid: Sequence[float] | None = None,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
) -> dict[str, float]:
    """The stripped backbone of ``model`` as a recognition feature (docs/method.md §6, §9.3).

    * ``verif_<benchmark>`` (and ``_std`` over folds): verification accuracy of the cosine
      similarity of embeddings (plus the flipped image's with ``flip``), threshold by
      ``folds``-fold cross-validation (:func:`advtransfer.attributes.verification.verification_accuracy`);
      ``verification_accuracy`` is their mean over benchmarks;
    * ``probe_accuracy``, ``kshot_accuracy`` and friends: full and k-shot linear probes
      on identities never used in training (:func:`advtransfer.images.measures.knowledge_measures`).

    Args:
        model: classifier with ``features``; its head is never used.
        pairs: benchmark -> (images (2P, C, H, W), issame (P,)).
        probe_train, probe_test: (images, identity labels) of the probe.
        C, C_grid: the probe's inverse L2 strength, or a grid to choose it from on a
            validation part of ``probe_train`` (``probe_C`` in the row).
    """
    from advtransfer.attributes import verification
    from advtransfer.images import measures

    out: dict[str, float] = {}
    for bench, (x, issame) in pairs.items():
        emb = verification.embed(model, x, flip=flip, batch_size=batch_size, device=device)
        res = verification.verification_accuracy(
            verification.pair_scores(emb), issame.cpu().numpy().astype(bool), folds=folds
        )
        out[f"verif_{bench}"] = res["accuracy"]
        out[f"verif_{bench}_std"] = res["accuracy_std"]
    out["verification_accuracy"] = float(np.mean([out[f"verif_{b}"] for b in pairs]))
    out.update(measures.knowledge_measures(model, probe_train, probe_test, C=C, C_grid=C_grid,
                                           kshot=kshot, batch_size=batch_size, device=device))
    return out


# ---------------------------------------------------------------------------------------
# Summary tables
# ---------------------------------------------------------------------------------------
def recognition_columns(benchmarks: Sequence[str]) -> list[str]:
    """Knowledge measures of a recognition row: mean and per-benchmark verification
    accuracy, k-shot and full identity-probe accuracy."""
    return ["verification_accuracy", *(f"verif_{b}" for b in benchmarks), "kshot_accuracy",
            "probe_accuracy"]


def transfer_table(
    sources: pd.DataFrame, adversarial: pd.DataFrame, recognition: pd.DataFrame
) -> pd.DataFrame:
    """One row per source model: adversarial and knowledge measures side by side.

    ``cross_adv_loss`` is the reference's identity loss under the source's PGD images
    (Liang et al. §4.3, Table 1, where it is shown divided by its maximum over the sources:
    the same ranking).

    Args:
        sources: ``model, attribute, seed`` per source.
        adversarial: rows of :func:`advtransfer.images.measures.adversarial_measures` with ``model``.
        recognition: verification / probe rows with ``model``.
    """
    table = sources.merge(adversarial, on="model", validate="one_to_one")
    table = table.merge(recognition, on="model", validate="one_to_one")
    return table


def per_attribute(table: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Mean of ``columns`` over the seeds of each attribute, in first-appearance order."""
    grouped = table.groupby("attribute", sort=False)[list(columns)].mean()
    return grouped.reset_index()


def table1(
    table: pd.DataFrame,
    benchmarks: Sequence[str],
    *,
    top: int = 5,
    reference: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Paper Table 1: the ``top`` attributes by adversarial transferability.

    Columns: ``rank`` (1 = most transferable), ``attribute``, ``cross_adv_loss``, one
    verification accuracy per benchmark, ``verification_mean`` (mean over benchmarks),
    ``verification_rank`` (rank of ``verification_mean`` among all attributes, 1 = best;
    ties share the best rank) and ``kshot_accuracy``. Values are means over seeds.
    ``reference`` (a recognition row of the identity model) is appended as a last row
    with attribute ``identity (reference)`` and no rank.
    """
    cols = ["cross_adv_loss", *(f"verif_{b}" for b in benchmarks),
            "verification_accuracy", "kshot_accuracy"]
    agg = per_attribute(table, cols).rename(columns={"verification_accuracy": "verification_mean"})
    agg["verification_rank"] = agg["verification_mean"].rank(ascending=False, method="min")
    agg = agg.sort_values("cross_adv_loss", ascending=False, kind="stable")
    agg.insert(0, "rank", np.arange(1, len(agg) + 1))
    out = agg.head(top).reset_index(drop=True)
    order = ["rank", "attribute", "cross_adv_loss", *(f"verif_{b}" for b in benchmarks),
             "verification_mean", "verification_rank", "kshot_accuracy"]
    out = out[order]
    out["verification_rank"] = out["verification_rank"].astype("Int64")
    if reference is not None:
        row = {"rank": pd.NA, "attribute": "identity (reference)", "cross_adv_loss": math.nan,
               **{f"verif_{b}": reference[f"verif_{b}"] for b in benchmarks},
               "verification_mean": reference["verification_accuracy"],
               "verification_rank": pd.NA, "kshot_accuracy": reference["kshot_accuracy"]}
        out = pd.concat([out.astype({"rank": "Int64"}), pd.DataFrame([row])], ignore_index=True)
        out["rank"] = out["rank"].astype("Int64")
    return out
