"""Bring-your-own models through the real Snakemake DAG.

The byo scenario runs on generated inputs: an image folder of small PNGs and four
candidate models covering every format (torchvision resnet18 weights, a traced TorchScript
net with a `features` method, one used through its output, and digits_cnn safetensors).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import copy_run, run_snakemake, write_config
from PIL import Image
from test_leaderboard_workflow import check_board
from test_model_zoo import write_digits_cnn, write_resnet18, write_torchscript

pytestmark = pytest.mark.workflow

CLASSES = ("disc", "bar", "ring")


def write_image_folder(root, per_class: int = 12, size: int = 12, seed: int = 0) -> None:
    """Three classes of noisy 12x12 PNGs: a bright disc, a vertical bar, a ring."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    radius = np.hypot(yy, xx)
    shapes = {"disc": radius < 3.5, "bar": np.abs(xx) < 1.5, "ring": np.abs(radius - 4) < 1}
    for name in CLASSES:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            colour = rng.uniform(0.5, 1.0, size=3)
            img = 0.15 * rng.random((size, size, 3)) + shapes[name][..., None] * colour * 0.8
            Image.fromarray(np.uint8(np.clip(img, 0, 1) * 255)).save(root / name / f"{i:02d}.png")


def write_byo_inputs(workdir) -> list[dict]:
    """Image folder and candidate models under ``workdir``; returns byo.models."""
    write_image_folder(workdir / "images")
    models = workdir / "candidates"
    models.mkdir()
    write_resnet18(models / "resnet18.pth", num_classes=5)
    write_torchscript(models / "tiny.pt", seed=1)
    write_torchscript(models / "plain.pt", seed=2, with_features=False)
    write_digits_cnn(models / "digits.safetensors", num_classes=4)
    return [
        {"name": "resnet18_random", "format": "torchvision", "arch": "resnet18",
         "file": "candidates/resnet18.pth", "label": "random resnet18"},
        {"name": "tiny_script", "format": "torchscript", "file": "candidates/tiny.pt"},
        {"name": "plain_script", "format": "torchscript", "file": "candidates/plain.pt",
         "features": "output"},
        {"name": "digits", "format": "safetensors", "file": "candidates/digits.safetensors"},
    ]


def tiny_byo(models: list[dict]) -> dict:
    return {
        "target": {"image_folder": "images", "image_size": 16, "split": [0.5, 0.25, 0.25]},
        "models": models,
        "train": {"arch": "digits_cnn", "epochs": 2, "batch_size": 16},
        "attack": {"eps": 0.05, "steps": 2, "n_images": 8, "batch_size": 8},
        "jacobian_points": 4,
        "probe": {"kshot": {"k": 2, "draws": 2}},
    }


@pytest.fixture(scope="module")
def workflow_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("byo")
    cfg = {
        "scenarios": ["byo"],
        "byo": tiny_byo(write_byo_inputs(workdir)),
        "leaderboard": {"gbc": {"pca_dim": 8}, "ranking": {"n_boot": 50}},
    }
    write_config(workdir, cfg)
    run_snakemake(workdir)
    return workdir


def test_byo_candidates_ranked(workflow_run):
    base = workflow_run / "results/default/byo"
    candidates = pd.read_csv(base / "models/candidates.tsv", sep="\t").set_index("model")
    assert candidates.loc["resnet18_random", "feature_dim"] == 512
    assert candidates.loc["tiny_script", "num_source_classes"] == 3
    assert candidates.loc["plain_script", "num_source_classes"] == 0
    assert candidates.loc["digits", "feature_dim"] == 64
    transfer = pd.read_csv(base / "transfer.tsv", sep="\t")
    assert len(transfer) == 4 and transfer["probe_accuracy"].between(0, 1).all()
    sources = check_board(base, n_sources=4).set_index("model")
    assert np.isnan(sources.loc["plain_script", "leep"])  # no source head
    assert sources.drop(index="plain_script")["leep"].notna().all()
    board = pd.read_csv(base / "leaderboard.tsv", sep="\t").set_index(["truth", "measure"])
    assert board.loc[("probe_accuracy", "leep"), "n"] == 3
    assert board.loc[("probe_accuracy", "h_score"), "n"] == 4
    meta = yaml.safe_load((base / "models/reference.json").read_text())
    assert meta["classes"] == sorted(CLASSES)
    attack_log = (workflow_run / "logs/default/byo/measure_byo_adversarial/plain_script.log").read_text()
    assert "loss mse_clean" in attack_log and "validation images" in attack_log


def byo_only(workdir, models) -> None:
    write_config(workdir, {"scenarios": ["byo"], "byo": tiny_byo(models)})


def test_missing_image_folder_stops_before_any_job(tmp_path):
    models = write_byo_inputs(tmp_path)
    byo_only(tmp_path, models)
    cfg = yaml.safe_load((tmp_path / "config.yaml").read_text())
    cfg["byo"]["target"]["image_folder"] = "no_such_folder"
    write_config(tmp_path, cfg)
    proc = run_snakemake(tmp_path, "-n", check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "no_such_folder does not exist" in out and "one sub-folder per class" in out


def test_bad_model_files_stop_before_training(tmp_path):
    models = write_byo_inputs(tmp_path)
    # parse time: a missing file
    byo_only(tmp_path, [*models[:3], {**models[3], "file": "candidates/gone.safetensors"}])
    proc = run_snakemake(tmp_path, "-n", check=False)
    assert proc.returncode != 0
    assert "candidates/gone.safetensors not found" in proc.stdout + proc.stderr
    # check job: weights of the wrong architecture, reported before the reference trains
    byo_only(tmp_path, [*models[:3], {**models[0], "name": "wrong", "arch": "resnet34"}])
    proc = run_snakemake(tmp_path, check=False)
    assert proc.returncode != 0
    log = (tmp_path / "logs/default/byo/check_byo_models.log").read_text()
    assert "model wrong: weights in candidates/resnet18.pth do not fit torchvision resnet34" in log
    assert not (tmp_path / "results/default/byo/models/reference.safetensors").exists()


def test_example_config_is_valid():
    from conftest import REPO

    from advtransfer.config import load_schema, validate_config

    cfg = yaml.safe_load((REPO / "configs/byo_example.yaml").read_text())
    validate_config(cfg, load_schema(REPO / "schemas/config.schema.yaml"))
    assert [m["format"] for m in cfg["byo"]["models"]] == ["advtransfer", "safetensors", "export"]


def test_example_runs_as_shipped_after_the_default_run(tiny_run, tmp_path):
    """configs/byo_example.yaml, unchanged, on what the (tiny) default run leaves."""
    from conftest import REPO

    workdir = tmp_path / "run"
    copy_run(tiny_run, workdir)
    proc = run_snakemake(workdir, "--configfile", str(REPO / "configs/byo_example.yaml"))
    assert "rule train_classifier:" not in proc.stdout + proc.stderr  # the default run's kept
    base = workdir / "results/byo_example/byo"  # the example's run name
    folder = base / "example/target"
    # (Snakemake marks a directory output with a hidden .snakemake_timestamp file)
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == ["four", "one"]
    candidates = pd.read_csv(base / "models/candidates.tsv", sep="\t").set_index("model")
    assert list(candidates["format"]) == ["advtransfer", "safetensors", "export"]
    assert (candidates["outputs"] == 2).all() and (candidates["input_size"] == 64).all()
    assert (candidates["jacobian_mb"] > 0).all() and (candidates["jacobian_s_est"] >= 0).all()
    assert (base / "example/digits_p100_export.pt2").is_file()
    scores = pd.read_csv(base / "source_scores.tsv", sep="\t")
    assert set(scores["model"]) == set(candidates.index) and list(scores["rank"]) == [1, 2, 3]
    assert scores["probe_accuracy"].is_monotonic_decreasing
    assert (base / "leaderboard.tsv").stat().st_size > 0
