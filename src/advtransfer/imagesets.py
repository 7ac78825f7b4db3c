"""Cached image data sets of the image scenarios: one safetensors file per data set.

A file holds ``x_<split>`` (uint8 0..255 or float32 in [0, 1]) and ``y_<split>`` (int64)
for the splits it has (``train``, ``val``, ``test``), with the class names and domain in
its metadata.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import torch
from safetensors import safe_open

from . import io
from .distributions import to_float_images

__all__ = ["save_imageset", "load_split", "load_meta", "attack_subset"]


def save_imageset(path: str | os.PathLike, arrays: dict[str, Any], meta: dict[str, Any]) -> None:
    tensors = {k: torch.as_tensor(np.ascontiguousarray(v)) for k, v in arrays.items()}
    sizes = {k[2:]: int(v.shape[0]) for k, v in tensors.items() if k.startswith("x_")}
    io.save_tensors(path, tensors, meta={**meta, "sizes": sizes})


def load_meta(path: str | os.PathLike) -> dict[str, Any]:
    with safe_open(str(path), framework="pt") as handle:
        return {k: json.loads(v) for k, v in (handle.metadata() or {}).items()}


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
