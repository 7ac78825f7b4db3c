"""Embedded multi-task benchmark on scikit-learn digits (offline stand-in for Taskonomy).

Every example is a *canvas*: an 8x8 digit, optionally mirrored, rotated by one of a few
angles and shifted by a few pixels inside a larger square canvas (default 14x14). Ten
tasks, in three a-priori categories, are defined on the same canvases, so every task
model sees the same inputs and adversarial examples of one task can be scored on all:

========== ============= ===== ==========================================================
category   task          loss  target
========== ============= ===== ==========================================================
pixel      autoencoding  mse   the canvas itself
pixel      denoising     mse   the canvas; training inputs get Gaussian noise
pixel      inpainting    mse   the canvas; training inputs get a random square zeroed
pixel      edges         mse   Sobel gradient magnitude of the canvas / (4 sqrt 2)
geometric  rotation      ce    which rotation angle was applied
geometric  flip          ce    whether the digit was mirrored
geometric  translation   mse   the shift (dx, dy) / max_shift in [-1, 1]^2
semantic   digit         ce    the digit class 0..9
semantic   parity        ce    digit odd
semantic   loop          ce    digit with a closed loop (0, 6, 8, 9)
========== ============= ===== ==========================================================

Each task model is a :class:`TaskNet`: the same convolutional encoder architecture
(``features(x)``, a ``feature_dim`` vector) and a linear task head. Splits are drawn per
original digit image (all canvases of one image land in one split), stratified by class.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from advtransfer.tasks.models import TaskSpec

__all__ = [
    "DIGITS_TASK_TABLE",
    "LOOP_DIGITS",
    "digits_tasks",
    "make_canvases",
    "edge_map",
    "build_digits_tasks",
    "training_transform",
    "TaskNet",
]

#: name -> (a-priori category, loss kind), in canonical order.
DIGITS_TASK_TABLE: dict[str, tuple[str, str]] = {
    "autoencoding": ("pixel", "mse"),
    "denoising": ("pixel", "mse"),
    "inpainting": ("pixel", "mse"),
    "edges": ("pixel", "mse"),
    "rotation": ("geometric", "ce"),
    "flip": ("geometric", "ce"),
    "translation": ("geometric", "mse"),
    "digit": ("semantic", "ce"),
    "parity": ("semantic", "ce"),
    "loop": ("semantic", "ce"),
}

#: Digits whose usual glyph has a closed loop.
LOOP_DIGITS: tuple[int, ...] = (0, 6, 8, 9)

_SOBEL_MAX = 4.0 * math.sqrt(2.0)  # largest Sobel magnitude of an image in [0, 1]


def digits_tasks(names: Sequence[str] | None, canvas: int, n_rotations: int) -> list[TaskSpec]:
    """Task specs of the digits benchmark (``names=None``: all ten, canonical order)."""
    names = list(DIGITS_TASK_TABLE) if names is None else list(names)
    unknown = [n for n in names if n not in DIGITS_TASK_TABLE]
    if unknown:
        raise ValueError(f"unknown digits tasks {unknown}; known: {list(DIGITS_TASK_TABLE)}")
    if len(set(names)) != len(names) or len(names) < 2:
        raise ValueError(f"need at least two distinct tasks, got {names}")
    out_dims = {
        "autoencoding": canvas * canvas, "denoising": canvas * canvas,
        "inpainting": canvas * canvas, "edges": canvas * canvas,
        "rotation": n_rotations, "flip": 2, "translation": 2,
        "digit": 10, "parity": 2, "loop": 2,
    }  # fmt: skip
    return [TaskSpec(n, DIGITS_TASK_TABLE[n][0], DIGITS_TASK_TABLE[n][1], out_dims[n])
            for n in names]


def make_canvases(
    images: Tensor,
    *,
    canvas: int,
    flips: Tensor,
    angles_deg: Tensor,
    shifts: Tensor,
) -> Tensor:
    """Place digits on a canvas: mirror, rotate about the centre, shift by whole pixels.

    The digit is mirrored left-right where ``flips`` is 1, zero-padded to the centre of a
    ``canvas`` x ``canvas`` image, rotated by ``angles_deg`` (counter-clockwise, bilinear,
    zeros outside) and shifted by ``shifts = (dx, dy)`` pixels (right, down) -- one
    ``grid_sample``; integer shifts land on pixel centres, so they are exact.

    Shape:
        images: ``(N, 1, h, w)`` in [0, 1]; flips, angles_deg: ``(N,)``; shifts: ``(N, 2)``.

    Returns:
        ``(N, 1, canvas, canvas)`` float32 in [0, 1].
    """
    n, c, h, w = images.shape
    if canvas < max(h, w):
        raise ValueError(f"canvas {canvas} is smaller than the {h}x{w} digits")
    x = torch.where(flips.view(n, 1, 1, 1).bool(), images.flip(-1), images).float()
    top, left = (canvas - h) // 2, (canvas - w) // 2
    x = F.pad(x, (left, canvas - w - left, top, canvas - h - top))
    theta = torch.deg2rad(angles_deg.double())
    cos, sin = torch.cos(theta), torch.sin(theta)
    # output -> input coordinates: inverse rotation, then minus the shift (normalised units)
    tx = -2.0 * shifts[:, 0].double() / canvas
    ty = -2.0 * shifts[:, 1].double() / canvas
    mat = torch.stack([
        torch.stack([cos, sin, cos * tx + sin * ty], dim=1),
        torch.stack([-sin, cos, -sin * tx + cos * ty], dim=1),
    ], dim=1).float()  # fmt: skip
    grid = F.affine_grid(mat, [n, c, canvas, canvas], align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.clamp_(0.0, 1.0)


def edge_map(x: Tensor) -> Tensor:
    """Sobel gradient magnitude of images in [0, 1], divided by its maximum 4 sqrt 2.

    Shape:
        x: ``(N, 1, H, W)``; returns the same shape, values in [0, 1].
    """
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    kernels = torch.stack([kx, kx.T]).unsqueeze(1).to(x.dtype)
    g = F.conv2d(F.pad(x, (1, 1, 1, 1)), kernels)
    return (g.pow(2).sum(dim=1, keepdim=True).sqrt() / _SOBEL_MAX).clamp_(0.0, 1.0)


def build_digits_tasks(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The digits multi-task data set: canvases, per-task targets and splits.

    Args:
        cfg: the ``tasks.digits`` config section (``canvas``, ``rotations``,
            ``max_shift``, ``copies``, ``split``, ``seed``).

    Returns:
        ``{"x": (M, 1, c, c) float32, "targets": {task: tensor}, "splits": {split: (m,)
        int64 canvas indices}, "digit": (M,), "image": (M,)}`` for every task of
        :data:`DIGITS_TASK_TABLE`.
    """
    from advtransfer.images.datasets import load_digits_images, split_indices

    images, labels = load_digits_images()
    rotations = [float(a) for a in cfg["rotations"]]
    canvas, max_shift, copies = int(cfg["canvas"]), int(cfg["max_shift"]), int(cfg["copies"])
    if len(rotations) < 2 or len(set(rotations)) != len(rotations):
        raise ValueError(f"rotations need at least two distinct angles, got {rotations}")
    if max_shift < 1 or canvas < 8 + 2 * max_shift:
        raise ValueError(
            f"need max_shift >= 1 and canvas >= 8 + 2 max_shift, got canvas {canvas}, "
            f"max_shift {max_shift}"
        )
    n = len(labels)
    rng = np.random.default_rng(int(cfg["seed"]))
    image = np.repeat(np.arange(n), copies)
    m = len(image)
    flips = rng.integers(0, 2, size=m)
    rot = rng.integers(0, len(rotations), size=m)
    shifts = rng.integers(-max_shift, max_shift + 1, size=(m, 2))
    x = make_canvases(
        torch.from_numpy(images[image]),
        canvas=canvas,
        flips=torch.from_numpy(flips),
        angles_deg=torch.tensor([rotations[r] for r in rot]),
        shifts=torch.from_numpy(shifts),
    )
    digit = torch.from_numpy(labels[image])
    flat = x.reshape(m, -1)
    targets = {
        "autoencoding": flat, "denoising": flat, "inpainting": flat,
        "edges": edge_map(x).reshape(m, -1),
        "rotation": torch.from_numpy(rot).long(),
        "flip": torch.from_numpy(flips).long(),
        "translation": torch.from_numpy(shifts).float() / max_shift,
        "digit": digit.long(),
        "parity": (digit % 2).long(),
        "loop": torch.isin(digit, torch.tensor(LOOP_DIGITS)).long(),
    }  # fmt: skip
    image_splits = split_indices(labels, fractions=cfg["split"], seed=int(cfg["seed"]))
    splits = {
        name: torch.from_numpy(np.flatnonzero(np.isin(image, idx))).long()
        for name, idx in image_splits.items()
    }
    return {"x": x.contiguous(), "targets": targets, "splits": splits, "digit": digit.long(),
            "image": torch.from_numpy(image).long()}


def training_transform(
    task: str, cfg: Mapping[str, Any]
) -> Callable[[Tensor, torch.Generator], Tensor] | None:
    """Training-input corruption of a task: noise (denoising), a zeroed square (inpainting).

    Args:
        task: task name.
        cfg: the ``tasks.digits`` config section (``noise_std``, ``mask_size``).

    Returns:
        ``f(xb, generator) -> xb'`` or ``None`` for tasks trained on clean inputs.
    """
    if task == "denoising":
        std = float(cfg["noise_std"])

        def add_noise(xb: Tensor, generator: torch.Generator) -> Tensor:
            noise = torch.randn(xb.shape, generator=generator, dtype=xb.dtype)
            return (xb + std * noise).clamp(0.0, 1.0)

        return add_noise
    if task == "inpainting":
        size = int(cfg["mask_size"])

        def mask_square(xb: Tensor, generator: torch.Generator) -> Tensor:
            n, _, h, w = xb.shape
            if size > min(h, w):
                raise ValueError(f"mask_size {size} exceeds the {h}x{w} canvas")
            rows = torch.randint(0, h - size + 1, (n,), generator=generator)
            cols = torch.randint(0, w - size + 1, (n,), generator=generator)
            r = torch.arange(h).view(1, h, 1)
            c = torch.arange(w).view(1, 1, w)
            inside = ((r >= rows.view(n, 1, 1)) & (r < rows.view(n, 1, 1) + size)
                      & (c >= cols.view(n, 1, 1)) & (c < cols.view(n, 1, 1) + size))
            return xb.masked_fill(inside.unsqueeze(1), 0.0)

        return mask_square
    return None


class TaskNet(nn.Module):
    """Shared encoder architecture with a linear task head, for small grey canvases.

    Encoder: conv3x3(width) -> ReLU -> conv3x3(2 width, stride 2) -> ReLU ->
    conv3x3(2 width) -> ReLU -> flatten -> linear(feature_dim) -> ReLU. Head:
    linear(feature_dim -> out_dim). Inputs in [0, 1]; ``(x - mean) / std`` inside.

    Args:
        out_dim: outputs of the head (classes, or regression outputs).
        in_channels, image_size: input geometry (square images).
        width: channels of the first convolution.
        feature_dim: width of the representation ``features(x)``.
        mean, std: per-channel normalisation in pixel units.

    Shape:
        x: ``(N, in_channels, image_size, image_size)``; ``features``: ``(N, feature_dim)``;
        ``forward``: ``(N, out_dim)``.
    """

    arch = "digits_tasknet"

    def __init__(
        self,
        out_dim: int,
        in_channels: int = 1,
        image_size: int = 14,
        width: int = 16,
        feature_dim: int = 128,
        mean: Sequence[float] = (0.0,),
        std: Sequence[float] = (1.0,),
    ) -> None:
        super().__init__()
        for name, value in (("out_dim", out_dim), ("in_channels", in_channels),
                            ("image_size", image_size), ("width", width),
                            ("feature_dim", feature_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if len(mean) != in_channels or len(std) != in_channels or min(std) <= 0:
            raise ValueError("mean and std need one value per channel, std > 0")
        self._config = {"out_dim": out_dim, "in_channels": in_channels,
                        "image_size": image_size, "width": width, "feature_dim": feature_dim,
                        "mean": [float(v) for v in mean], "std": [float(v) for v in std]}
        self.register_buffer("mean", torch.tensor(self._config["mean"]).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(self._config["std"]).view(1, -1, 1, 1))
        half = (image_size + 1) // 2
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(2 * width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(2 * width * half * half, feature_dim),
            nn.ReLU(),
        )
        self.head = nn.Linear(feature_dim, out_dim)

    def config(self) -> dict[str, Any]:
        """Constructor arguments (JSON-serialisable), recorded in the sidecar."""
        return dict(self._config)

    def features(self, x: Tensor) -> Tensor:
        """Encoder representation of images in [0, 1]."""
        size = self._config["image_size"]
        if x.dim() != 4 or tuple(x.shape[1:]) != (self._config["in_channels"], size, size):
            raise ValueError(
                f"expected (N, {self._config['in_channels']}, {size}, {size}), got {tuple(x.shape)}"
            )
        return self.encoder((x - self.mean) / self.std)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))
