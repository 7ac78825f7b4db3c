"""Source data sets, target tasks and the source table of the model zoo (rules/zoo.smk).

The zoo is an embedded stand-in for a hub of pretrained models (docs/method.md §9.8): the
digits images are split once into a *source pool* and a disjoint *target pool*. Source data
sets are class subsets of the source pool under a labelling (the ten digits, parity, closed
loops); every architecture of every family (:data:`advtransfer.images.architectures.FAMILIES`)
is trained on every source data set. Target tasks are the target pool under a labelling and
a change of domain (the half-pixel digits shift, inverted or transposed images), each with
its own train / val / test split.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from advtransfer.images import datasets
from advtransfer.images.architectures import FAMILIES

__all__ = [
    "LABELINGS",
    "TRANSFORMS",
    "apply_transform",
    "build_zoo_data",
    "relabel",
    "zoo_sources",
]

#: Labellings of the ten digits: {name: (class names, digit -> class index)}.
LABELINGS: dict[str, tuple[list[str], list[int]]] = {
    "digit": (list(datasets.DIGITS_CLASS_NAMES), list(range(10))),
    "parity": (["even", "odd"], [d % 2 for d in range(10)]),
    # handwritten 0, 6, 8, 9 close a loop; 4 is drawn open as often as not
    "loops": (["loop", "open"], [0 if d in (0, 6, 8, 9) else 1 for d in range(10)]),
}
#: Changes of domain of a target task (images in [0, 1], shape (N, 1, 8, 8)).
TRANSFORMS: tuple[str, ...] = ("none", "digits_shift", "invert", "transpose")


def relabel(y: np.ndarray, labels: str) -> tuple[np.ndarray, list[str]]:
    """Digits ``y`` (0..9) under labelling ``labels``: ``(new labels, class names)``."""
    if labels not in LABELINGS:
        raise ValueError(f"unknown labelling {labels!r}; choose one of {', '.join(LABELINGS)}")
    names, mapping = LABELINGS[labels]
    return np.asarray(mapping, dtype=np.int64)[np.asarray(y, dtype=np.int64)], list(names)


def apply_transform(x: np.ndarray, kind: str) -> np.ndarray:
    """Images ``x`` (N, C, H, W) in [0, 1] under the change of domain ``kind``."""
    if kind not in TRANSFORMS:
        raise ValueError(f"unknown transform {kind!r}; choose one of {', '.join(TRANSFORMS)}")
    if kind in ("none", "digits_shift"):
        return np.asarray(datasets.domain_shift(x, kind))
    if kind == "invert":
        return (1.0 - np.asarray(x)).astype(np.float32)
    return np.ascontiguousarray(np.swapaxes(np.asarray(x), -1, -2))


def _digits(classes: str | Sequence[str]) -> list[int]:
    if classes == "all":
        return list(range(10))
    return datasets.resolve_classes(list(classes), datasets.DIGITS_CLASS_NAMES)


def _splits(x: np.ndarray, y: np.ndarray, fractions: Sequence[float], seed: int) -> dict:
    out = {}
    for name, idx in datasets.split_indices(y, fractions, seed=seed).items():
        if len(idx):
            out[f"x_{name}"], out[f"y_{name}"] = x[idx], y[idx]
    return out


def _entry(x: np.ndarray, y: np.ndarray, spec: Mapping[str, Any], fractions: Sequence[float],
           seed: int, domain: str) -> dict[str, Any]:
    """One data set: the spec's digits of (x, y), relabelled and split."""
    keep = np.isin(y, _digits(spec.get("classes", "all")))
    labels, names = relabel(y[keep], spec.get("labels", "digit"))
    present = sorted(set(labels.tolist()))  # a class subset may leave labels unused
    index = {old: new for new, old in enumerate(present)}
    labels = np.array([index[v] for v in labels.tolist()], dtype=np.int64)
    return {"arrays": _splits(x[keep], labels, fractions, seed),
            "classes": [names[i] for i in present], "domain": domain}


def build_zoo_data(cfg: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every source data set (``source_<name>``) and target task (``target_<name>``).

    Args:
        cfg: the ``zoo`` config section (``split_seed``, ``pool_split``, ``source_split``,
            ``target_split``, ``datasets``, ``targets``; schemas/scenarios/zoo.schema.yaml).

    Returns:
        ``{name: {"arrays": {x_train, y_train, ...}, "classes": [...], "domain": str}}``.
    """
    x, y = datasets.load_digits_images()
    seed = cfg["split_seed"]
    share = float(cfg["pool_split"])
    pools = datasets.split_indices(y, (share, 1.0 - share, 0.0), seed=seed)
    xs, ys = x[pools["train"]], y[pools["train"]]
    xt, yt = x[pools["val"]], y[pools["val"]]
    out: dict[str, dict[str, Any]] = {}
    for name, spec in cfg["datasets"].items():
        out[f"source_{name}"] = _entry(xs, ys, spec, cfg["source_split"], seed,
                                       "digits (source pool)")
    for name, spec in cfg["targets"].items():
        kind = spec.get("transform", "none")
        out[f"target_{name}"] = _entry(apply_transform(xt, kind), yt, spec,
                                       cfg["target_split"], seed,
                                       f"digits (target pool, {kind})")
    return out


def zoo_sources(cfg: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The zoo's source models: every architecture of ``cfg["families"]`` (names from
    :data:`FAMILIES`) on every source data set and seed.

    Returns:
        ``{model: {"arch", "family", "size", "dataset", "seed", "label"}}``, model names
        ``<family>_<size>_<dataset>`` (plus ``_s<seed>`` with several seeds), e.g.
        ``cnn_s_lower``; ``size`` is the architecture's rank within its family (``s``
        smallest, then ``m``, ``l``).
    """
    seeds = list(cfg["seeds"])
    table: dict[str, dict[str, Any]] = {}
    for family in cfg["families"]:
        if family not in FAMILIES:
            raise ValueError(f"zoo.families: unknown family {family!r}; known: "
                             f"{', '.join(FAMILIES)}")
        archs = FAMILIES[family]
        sizes = ["s", "l"] if len(archs) == 2 else [f"{i}" for i in range(len(archs))]
        for arch, size in zip(archs, sizes):
            for dataset in cfg["datasets"]:
                for seed in seeds:
                    name = f"{family}_{size}_{dataset}" + (f"_s{seed}" if len(seeds) > 1 else "")
                    table[name] = {"arch": arch, "family": family, "size": size,
                                   "dataset": dataset, "seed": int(seed),
                                   "label": f"{arch} on {dataset}"}
    return table
