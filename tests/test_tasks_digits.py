"""Tests of advtransfer.tasks.digits: the embedded digits multi-task benchmark."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from advtransfer.tasks import digits as dt

CFG = {"canvas": 14, "rotations": [-20, 0, 20], "max_shift": 2, "copies": 2,
       "split": [0.6, 0.1, 0.3], "seed": 0, "noise_std": 0.2, "mask_size": 4}


def test_canvas_places_shifts_and_mirrors_exactly():
    image = torch.arange(64.0).view(1, 1, 8, 8) / 64
    zero = torch.zeros(1)
    plain = dt.make_canvases(image, canvas=14, flips=zero, angles_deg=zero,
                             shifts=torch.zeros(1, 2))
    assert torch.allclose(plain[0, 0, 3:11, 3:11], image[0, 0], atol=1e-6)
    assert plain.sum() == pytest.approx(image.sum().item(), rel=1e-5)
    shifted = dt.make_canvases(image, canvas=14, flips=zero, angles_deg=zero,
                               shifts=torch.tensor([[2, -1]]))
    assert torch.allclose(shifted[0, 0, 2:10, 5:13], image[0, 0], atol=1e-6)  # right 2, up 1
    mirrored = dt.make_canvases(image, canvas=14, flips=torch.ones(1), angles_deg=zero,
                                shifts=torch.zeros(1, 2))
    assert torch.allclose(mirrored[0, 0, 3:11, 3:11], image[0, 0].flip(-1), atol=1e-6)
    turned = dt.make_canvases(image, canvas=14, flips=zero, angles_deg=torch.tensor([90.0]),
                              shifts=torch.zeros(1, 2))
    assert torch.allclose(torch.rot90(turned[0, 0], 1), plain[0, 0], atol=1e-5) or \
        torch.allclose(torch.rot90(turned[0, 0], -1), plain[0, 0], atol=1e-5)


def test_edge_map_range_and_constant_image():
    x = torch.zeros(2, 1, 6, 6)
    x[1, 0, :, 3:] = 1.0
    edges = dt.edge_map(x)
    assert edges.shape == x.shape and edges.min() >= 0 and edges.max() <= 1
    assert edges[0].abs().max() == 0
    assert edges[1, 0, 2, 2] == pytest.approx(4 / (4 * math.sqrt(2)))  # vertical step


def test_build_digits_tasks_targets_and_splits():
    data = dt.build_digits_tasks(CFG)
    x, targets, splits = data["x"], data["targets"], data["splits"]
    assert x.shape == (2 * 1797, 1, 14, 14) and 0 <= x.min() and x.max() <= 1
    assert set(targets) == set(dt.DIGITS_TASK_TABLE)
    for spec in dt.digits_tasks(None, 14, 3):
        t = targets[spec.name]
        if spec.loss == "ce":
            assert t.dtype == torch.int64 and t.max() < spec.out_dim
        else:
            assert t.shape == (len(x), spec.out_dim)
    assert torch.equal(targets["parity"], targets["digit"] % 2)
    assert targets["translation"].abs().max() <= 1
    # splits: disjoint, cover everything, all canvases of one digit image in one split
    all_idx = torch.cat(list(splits.values())).sort().values
    assert torch.equal(all_idx, torch.arange(len(x)))
    image = data["image"]
    owners = {name: set(image[idx].tolist()) for name, idx in splits.items()}
    assert not owners["train"] & owners["test"] and not owners["val"] & owners["test"]
    again = dt.build_digits_tasks(CFG)
    assert torch.equal(again["x"], x)


def test_digits_task_list_checks():
    assert [s.name for s in dt.digits_tasks(None, 14, 3)] == list(dt.DIGITS_TASK_TABLE)
    assert {s.category for s in dt.digits_tasks(None, 14, 3)} == {"pixel", "geometric",
                                                                   "semantic"}
    with pytest.raises(ValueError, match="unknown"):
        dt.digits_tasks(["digit", "colour"], 14, 3)
    with pytest.raises(ValueError, match="canvas"):
        dt.build_digits_tasks({**CFG, "canvas": 10})


def test_training_transforms_are_seeded():
    x = torch.rand(4, 1, 14, 14)
    for task in ("denoising", "inpainting"):
        f = dt.training_transform(task, CFG)
        a = f(x, torch.Generator().manual_seed(0))
        b = f(x, torch.Generator().manual_seed(0))
        assert torch.equal(a, b) and not torch.equal(a, x) and a.min() >= 0 and a.max() <= 1
    masked = dt.training_transform("inpainting", CFG)(torch.ones(3, 1, 14, 14),
                                                      torch.Generator().manual_seed(1))
    assert np.allclose((masked == 0).sum(dim=(1, 2, 3)).numpy(), 16)
    assert dt.training_transform("digit", CFG) is None
