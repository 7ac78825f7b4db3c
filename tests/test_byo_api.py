"""The byo ranking as a Python call (advtransfer.byo.rank_candidates), the cost estimate of
a candidate's Jacobians, and the byo stages the workflow scripts share with it."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from conftest import REPO
from test_byo_workflow import CLASSES, write_image_folder
from test_model_zoo import SHAPE, write_digits_cnn, write_export, write_torchscript

from advtransfer import byo
from advtransfer.byo import candidates, ranking
from advtransfer.config import load_schema, validate_config
from advtransfer.images import imagefolder


def test_defaults_match_the_config_schema():
    cfg = validate_config({}, load_schema(REPO / "schemas/config.schema.yaml"))["byo"]
    cfg["target"].pop("image_folder")
    cfg["target"].pop("from_imageset")
    expected = {k: v for k, v in cfg.items() if k in ranking.DEFAULTS}
    assert expected == ranking.DEFAULTS


def test_cost_estimate_and_warning(tmp_path):
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 16 * 16, 150))
    cost = candidates.jacobian_cost(model, SHAPE, jacobian_points=10, batch_size=4,
                                    attack_steps=2, n_images=8)
    assert cost["outputs"] == 150 and cost["input_size"] == 768
    assert cost["jacobian_mb"] == pytest.approx(10 * 150 * 768 * 4 / 2**20)
    # 3 batches of 4 images, 150 backward passes each
    assert cost["jacobian_s_est"] == pytest.approx(3 * 150 * cost["forward_backward_s"])
    warning = candidates.cost_warning("big", cost)
    assert "big: 150 outputs (> 100)" in warning and "MiB" in warning
    small = {**cost, "outputs": 10, "jacobian_mb": 1.0}
    assert candidates.cost_warning("small", small) is None


def test_check_candidates_logs_a_warning(tmp_path, caplog):
    write_digits_cnn(tmp_path / "d.safetensors")
    specs = {"d": {"name": "d", "format": "safetensors", "file": str(tmp_path / "d.safetensors")}}
    with caplog.at_level(logging.WARNING):
        table = candidates.check_candidates(
            specs, (3, 130, 130), jacobian_points=2,
            attack={"batch_size": 2, "steps": 1, "n_images": 2})
    assert table.loc[0, "input_size"] == 3 * 130 * 130
    assert any("inputs of 50700 values" in r.message for r in caplog.records)


def test_write_image_folder_round_trip(tmp_path):
    x = np.random.default_rng(0).random((5, 1, 8, 8)).astype(np.float32)
    y = np.array([0, 1, 1, 0, 1])
    assert imagefolder.write_image_folder(tmp_path / "f", x, y, ["a", "b"]) == 5
    index = imagefolder.scan_image_folder(tmp_path / "f")
    read, labels = imagefolder.read_image_folder(index, image_size=8, channels=1)
    assert index.classes == ("a", "b") and sorted(labels) == sorted(y)
    assert np.abs(read[labels == 0] / 255.0 - x[y == 0]).max() < 0.01


TINY = {
    "target": {"image_size": 16, "split": [0.5, 0.25, 0.25]},
    "train": {"arch": "digits_cnn", "epochs": 2, "batch_size": 16},
    "attack": {"eps": 0.05, "steps": 2, "n_images": 8, "batch_size": 8},
    "jacobian_points": 4,
    "probe": {"C_grid": None, "kshot": {"k": 2, "draws": 2}},
}


def test_rank_candidates_in_process(tmp_path):
    write_image_folder(tmp_path / "images")
    write_digits_cnn(tmp_path / "digits.safetensors", num_classes=4)
    write_torchscript(tmp_path / "tiny.pt", seed=1)
    write_export(tmp_path / "tiny.pt2", seed=2)
    models = [
        {"name": "digits", "format": "safetensors", "file": tmp_path / "digits.safetensors"},
        {"name": "script", "format": "torchscript", "file": tmp_path / "tiny.pt"},
        {"name": "exported", "format": "export", "file": tmp_path / "tiny.pt2"},
    ]
    table = byo.rank_candidates(models, tmp_path / "images", settings=TINY,
                                estimators=["leep", "h_score", "log_me"], device="cpu")
    assert list(table["rank"]) == [1, 2, 3] and set(table["model"]) == {m["name"] for m in models}
    assert table["probe_accuracy"].is_monotonic_decreasing
    assert table[["cross_adv_loss", "tau1", "leep", "h_score", "kshot_accuracy"]].notna().all().all()
    assert table.set_index("model").loc["digits", "feature_dim"] == 64
    assert table.attrs["classes"] == sorted(CLASSES)
    with pytest.raises(ValueError, match="unknown setting train.epoch"):
        byo.rank_candidates(models, tmp_path / "images", settings={"train": {"epoch": 1}})
