"""Shared fixtures: run the real Snakemake workflow on tiny configs in temporary dirs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def run_snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the repository's Snakefile with `workdir` as working directory."""
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--cores", "2", *args]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def write_config(workdir: Path, config: dict) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


TINY_SYNTHETIC = {
    "seed": 0,
    "data": {"n_samples": 90, "input_dim": 6, "output_dim": 3, "n_rbf": 12, "n_clusters": 3},
    "target": {"hidden": 10, "steps": 200, "lr": 0.02, "seed": 0},
    "independent": {"hidden": 10, "steps": 200, "lr": 0.02, "seed": 1},
    "sweep": {"t": [0.0, 0.5, 1.0], "directions": 2, "direction_scale": 0.5, "seed": 3},
}


@pytest.fixture
def tiny_synthetic_config() -> dict:
    return {"scenarios": ["synthetic"], "synthetic": yaml.safe_load(yaml.safe_dump(TINY_SYNTHETIC))}


TINY_DISTRIBUTIONS = {
    "dataset": "digits",
    "groups": {"vehicles": ["one", "four"], "animals": ["zero", "three"]},
    "target_group": "vehicles",
    "source_seeds": [0],
    "train": {"arch": "digits_cnn", "epochs": 2, "batch_size": 64, "optimizer": "adam", "lr": 0.003},
    "attack": {"eps": 0.1, "steps": 3, "n_images": 40, "seed": 0, "batch_size": 64},
    "jacobian_points": 12,
    "probe": {"C": 1.0, "kshot": {"k": 3, "draws": 2, "seed": 0}},
    "correlation": {"n_boot": 50, "seed": 0},
}


def tiny_config() -> dict:
    """The default workflow (every default scenario) shrunk to run in well under a minute.

    Cluster, report and resume tests use this; it grows as scenarios land.
    """
    return {
        "scenarios": ["synthetic", "distributions"],
        "synthetic": yaml.safe_load(yaml.safe_dump(TINY_SYNTHETIC)),
        "distributions": yaml.safe_load(yaml.safe_dump(TINY_DISTRIBUTIONS)),
    }
