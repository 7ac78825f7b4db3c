"""Data sets of the "knowledge transfer among data distributions" scenario (docs/method.md §9.2).

Five source data sets move from the target's class group to the other group one class at
a time (0/25/50/75/100 % of the other group); the target holds one group on another
domain. Two back-ends build them:

* ``digits`` (embedded, offline): scikit-learn's 8x8 digits. The images are split once,
  stratified, into a *source pool* and a disjoint *target pool*; the target pool is moved
  to another domain by :func:`advtransfer.images.datasets.domain_shift` ("digits_shift"), so
  source and target data differ as CIFAR-10 and STL-10 do.
* ``cifar10_stl10`` (paper scale): sources from the CIFAR-10 training set, target from
  STL-10 (train split for training/validation, test split for testing), resized
  96 -> 32 and stored as uint8.

Each data set is a mapping ``x_train, y_train, x_val, y_val[, x_test, y_test]`` with
images (N, C, H, W) in [0, 1] (float32) or uint8 (0..255), labels int64 0..k-1 in the
order of its class list.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from advtransfer.images import datasets

__all__ = [
    "source_label",
    "check_group_classes",
    "source_percentages",
    "source_dataset_name",
    "source_class_lists",
    "build_datasets",
    "check_inputs",
]

logger = logging.getLogger(__name__)


def source_percentages(group_size: int) -> list[int]:
    """Percent of the other group in each source data set: 0, 25, 50, 75, 100 for 4 classes."""
    return [round(100 * j / group_size) for j in range(group_size + 1)]


def source_label(percent: int, group: str, classes: Sequence[str], dataset: str) -> str:
    """How figures and tables name a source data set: the share of the other group.

    Digits groups are named by their digits ("25 % of digits 0, 3, 6, 8"), so a reader
    never sees a digits run described as "animals"; CIFAR-10 groups by their name
    ("25 % animals").
    """
    if dataset == "digits":
        idx = datasets.resolve_classes(list(classes), datasets.DIGITS_CLASS_NAMES)
        return f"{percent} % of digits {', '.join(str(i) for i in sorted(idx))}"
    return f"{percent} % {group}"


def source_dataset_name(percent: int) -> str:
    """``p000`` ... ``p100``."""
    return f"p{percent:03d}"


def source_class_lists(cfg: Mapping[str, Any]) -> dict[str, list[str]]:
    """Class names of every source data set, keyed by :func:`source_dataset_name`.

    The sequence runs from the target's group (0 % of the other group) to the other
    group (100 %), swapping position i of one for position i of the other.
    """
    target, other = _groups(cfg)
    lists = datasets.mixture_class_lists(target, other)
    return {
        source_dataset_name(p): list(classes)
        for p, classes in zip(source_percentages(len(target)), lists)
    }


def _groups(cfg: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    groups = cfg["groups"]
    target_name = cfg["target_group"]
    other_name = next(name for name in groups if name != target_name)
    return list(groups[target_name]), list(groups[other_name])


def _subset(x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x[idx], y[idx]


def _make_splits(
    x: np.ndarray, y: np.ndarray, fractions: Sequence[float], seed: int
) -> dict[str, np.ndarray]:
    parts = datasets.split_indices(y, fractions, seed=seed)
    out: dict[str, np.ndarray] = {}
    for name, idx in parts.items():
        if len(idx) == 0:
            continue
        out[f"x_{name}"], out[f"y_{name}"] = _subset(x, y, idx)
    return out


def build_datasets(cfg: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Build every source data set and the target data set.

    Args:
        cfg: the ``distributions`` config section (see ``schemas/config.schema.yaml``).

    Returns:
        ``{name: {"arrays": {x_train, y_train, ...}, "classes": [...], "domain": str}}``
        for each source (``p000`` ...) and ``"target"``.
    """
    kind = cfg["dataset"]
    if kind == "digits":
        return _build_digits(cfg)
    if kind == "cifar10_stl10":
        return _build_cifar_stl(cfg)
    raise ValueError(f"unknown dataset {kind!r}; choose digits or cifar10_stl10")


def _build_digits(cfg: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    x, y = datasets.load_digits_images()
    names = datasets.DIGITS_CLASS_NAMES
    seed = cfg["split_seed"]
    pools = datasets.split_indices(y, (0.5, 0.5, 0.0), seed=seed)
    xs, ys = _subset(x, y, pools["train"])
    xt, yt = _subset(x, y, pools["val"])
    xt = datasets.domain_shift(xt, cfg["domain_shift"])
    out: dict[str, dict[str, Any]] = {}
    for name, classes in source_class_lists(cfg).items():
        xi, yi = datasets.select_classes(xs, ys, datasets.resolve_classes(classes, names))
        out[name] = {
            "arrays": _make_splits(xi, yi, cfg["source_split"], seed),
            "classes": classes,
            "domain": "digits (source pool)",
        }
    target_classes = _groups(cfg)[0]
    xi, yi = datasets.select_classes(xt, yt, datasets.resolve_classes(target_classes, names))
    out["target"] = {
        "arrays": _make_splits(xi, yi, cfg["target_split"], seed),
        "classes": target_classes,
        "domain": f"digits (target pool, {cfg['domain_shift']})",
    }
    return out


def _quantize(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(np.asarray(x) * 255.0), 0, 255).astype(np.uint8)


def check_inputs(cfg: Mapping[str, Any]) -> None:
    """Check the input files of a ``distributions`` config section before any work.

    Digits need nothing; CIFAR-10 / STL-10 need their archives under ``data_root`` unless
    ``download`` is set (then the build job fetches them). The workflow calls this when it
    builds the DAG, so a dry run already names the missing files.

    Raises:
        datasets.DatasetNotFoundError: listing every missing file, with the fix.
    """
    if cfg["dataset"] != "cifar10_stl10" or cfg["download"]:
        return
    root = cfg["data_root"]
    missing = [
        f for f in datasets.cifar10_files(root, "train") + datasets.stl10_files(root, "train")
        + datasets.stl10_files(root, "test") if not f.is_file()
    ]
    if missing:
        raise datasets.DatasetNotFoundError(
            "CIFAR-10 / STL-10 not found under data_root "
            f"{root!r}; missing: {', '.join(map(str, missing))}. Set `download: true` in the "
            "distributions config to fetch them once with torchvision, or extract "
            f"{datasets.CIFAR10_URL} and {datasets.STL10_URL} under that directory."
        )


def _build_cifar_stl(cfg: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    root, download, seed = cfg["data_root"], cfg["download"], cfg["split_seed"]
    check_inputs(cfg)  # both data sets, before the expensive work starts
    xc, yc = datasets.load_cifar10(root, "train", download=download)
    out: dict[str, dict[str, Any]] = {}
    for name, classes in source_class_lists(cfg).items():
        xi, yi = datasets.select_classes(
            xc, yc, datasets.resolve_classes(classes, datasets.CIFAR10_CLASSES)
        )
        arrays = _make_splits(_quantize(xi), yi, cfg["source_split"], seed)
        out[name] = {"arrays": arrays, "classes": classes, "domain": "CIFAR-10 train"}
    target_classes = _groups(cfg)[0]
    idx = datasets.resolve_classes(target_classes, datasets.STL10_CLASSES)
    size = cfg["image_size"]
    xtr, ytr = datasets.load_stl10(root, "train", download=download, image_size=size)
    xtr, ytr = datasets.select_classes(xtr, ytr, idx)
    xte, yte = datasets.load_stl10(root, "test", download=download, image_size=size)
    xte, yte = datasets.select_classes(xte, yte, idx)
    fr = cfg["target_split"]
    train_val = datasets.split_indices(ytr, (fr[0] / (fr[0] + fr[1]), fr[1] / (fr[0] + fr[1]), 0.0),
                                       seed=seed)
    arrays = {
        "x_train": _quantize(xtr[train_val["train"]]),
        "y_train": ytr[train_val["train"]],
        "x_val": _quantize(xtr[train_val["val"]]),
        "y_val": ytr[train_val["val"]],
        "x_test": _quantize(xte),
        "y_test": yte,
    }
    out["target"] = {"arrays": arrays, "classes": target_classes, "domain": f"STL-10 -> {size}px"}
    return out


def check_group_classes(config: Mapping[str, Any]) -> list[str]:
    """Class names of ``distributions.groups`` that the data set lacks, one message each.

    Passed to :func:`advtransfer.config.validate_config` by the workflow, so a typo stops
    the run before any job, naming the dotted key and the valid names.
    """
    section = config.get("distributions")
    if not isinstance(section, Mapping):
        return []
    groups = section.get("groups")
    if not isinstance(groups, Mapping):
        return []
    dataset = section.get("dataset", "digits")
    if dataset == "digits":
        class_sets = {name: [("digits", datasets.DIGITS_CLASS_NAMES)] for name in groups}
    elif dataset == "cifar10_stl10":
        # every group is drawn from CIFAR-10; the target group also from STL-10
        class_sets = {name: [("CIFAR-10", datasets.CIFAR10_CLASSES)] for name in groups}
        target = section.get("target_group")
        if target in class_sets:
            class_sets[target].append(("STL-10", datasets.STL10_CLASSES))
    else:
        return []
    problems = []
    for name, sets in class_sets.items():
        classes = groups[name]
        if not isinstance(classes, list) or not classes:
            continue
        for label, names in sets:
            for i, item in enumerate(classes):
                try:
                    datasets.resolve_classes([item], names)
                except ValueError:
                    problems.append(
                        f"config key distributions.groups.{name}[{i}]: {item!r} is not a "
                        f"{label} class. Fix: use one of {', '.join(names)}."
                    )
    return problems
