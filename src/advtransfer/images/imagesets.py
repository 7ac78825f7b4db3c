"""Cached image data sets of the image scenarios: one safetensors file per data set.

A file holds ``x_<split>`` (uint8 0..255 or float32 in [0, 1]) and ``y_<split>`` (int64)
(plus optional label sets ``<labels>_<split>``, e.g. one attribute) for the splits it has (``train``, ``val``, ``test``), with the class names and domain in
its metadata.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from advtransfer import io
from advtransfer.images.datasets import to_float_images

__all__ = [
    "save_imageset", "load_split", "load_meta", "attack_subset", "load_labels", "label_classes",
]  # fmt: skip


def save_imageset(path: str | os.PathLike, arrays: dict[str, Any], meta: dict[str, Any]) -> None:
    tensors = {k: torch.as_tensor(np.ascontiguousarray(v)) for k, v in arrays.items()}
    sizes = {k[2:]: int(v.shape[0]) for k, v in tensors.items() if k.startswith("x_")}
    io.save_tensors(path, tensors, meta={**meta, "sizes": sizes})


def load_meta(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata of a cached data set (``io.CorruptFileError`` for a damaged file)."""
    return io.load_tensor_meta(path)


def load_split(
    path: str | os.PathLike, split: str, raw: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (float32 in [0, 1]; with ``raw``, as stored: uint8 or float) and labels."""
    tensors = io.load_tensors(path)
    if f"x_{split}" not in tensors:
        have = sorted(k[2:] for k in tensors if k.startswith("x_"))
        raise KeyError(f"{path} has no {split!r} split (it has {have})")
    x = tensors[f"x_{split}"]
    return (x if raw else to_float_images(x)), tensors[f"y_{split}"].long()


def attack_subset(n_available: int, n_images: int, seed: int) -> torch.Tensor:
    """Indices of the attack images: a seeded sample of ``min(n_images, n)`` test images."""
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n_available, generator=gen)
    return perm[: min(n_images, n_available)].sort().values


def load_labels(path: str | os.PathLike[str], labels: str, split: str) -> torch.Tensor:
    """The label tensor ``<labels>_<split>`` of an image set (``"y"``: identity labels).

    Raises:
        KeyError: the file has no such tensor (the message lists the label sets it has).
    """
    key = f"{labels}_{split}"
    with io.open_tensors(path) as handle:
        keys = set(handle.keys())
        if key not in keys:
            have = sorted({k.rsplit("_", 1)[0] for k in keys if not k.startswith("x_")})
            raise KeyError(f"{path} has no labels {labels!r} for split {split!r} (it has {have})")
        return handle.get_tensor(key).long()


def label_classes(meta: Mapping[str, Any], labels: str) -> list[str]:
    """Class names of label set ``labels`` (``"y"``: ``meta["classes"]``)."""
    if labels == "y":
        return list(meta["classes"])
    sets = meta.get("label_sets", {})
    if labels not in sets:
        raise KeyError(f"unknown label set {labels!r}; the data set has {sorted(sets)}")
    return list(sets[labels])
