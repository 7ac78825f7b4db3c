"""Shared fixtures: run the real Snakemake workflow on tiny configs in temporary dirs."""

from __future__ import annotations

import os
import shutil
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


def copy_run(src: Path, dst: Path) -> Path:
    """Copy a finished run: config, results, logs, benchmarks and Snakemake's metadata.

    File times are kept (``copy2``), so Snakemake sees the copy as up to date: a test can
    change one thing in it and watch what re-runs, without computing the run again.
    """
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / "config.yaml", dst / "config.yaml")
    for part in ("results", "logs", "benchmarks", ".snakemake/metadata"):
        if (src / part).is_dir():
            shutil.copytree(src / part, dst / part)
    return dst


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
    # keys in the order of tiny_config(): Snakemake compares params as written, order included
    return {"scenarios": ["synthetic"],
            "synthetic": yaml.safe_load(yaml.safe_dump(TINY_SYNTHETIC, sort_keys=False))}


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


# The attributes default, reduced: three attributes (two tied to the identity, one not), a
# few epochs and steps, an ArcFace + focal-loss reference (the paper's choice).
TINY_ATTRIBUTES = {
    "dataset": "digits",
    "attributes": ["even", "prime", "ink"],
    "train": {"arch": "digits_cnn", "epochs": 2, "batch_size": 64},
    "reference_train": {"arch": "digits_cnn", "head": "arcface",
                        "arcface": {"scale": 16.0, "margin": 0.2}, "loss": "focal", "epochs": 3},
    "attack": {"eps": 0.1, "steps": 3, "n_images": 40, "seed": 0, "batch_size": 64},
    "jacobian_points": 12,
    "probe": {"kshot": {"k": 3, "draws": 2, "seed": 0}},
    "verification": {"benchmarks": ["digits", "digits_shift"], "pairs": 100},
    "correlation": {"n_boot": 50, "seed": 0},
    "table1": {"top": 2},
}

# The tasks default, reduced: one task per a-priori category, tiny encoders, one radius.
TINY_TASKS = {
    "dataset": "digits",
    "tasks": ["autoencoding", "rotation", "digit"],
    "digits": {"copies": 1},
    "train": {"width": 4, "feature_dim": 16, "epochs": 2},
    "attack": {"eps": [0.1], "steps": 2, "n_images": 40},
    "knowledge": {"n_train": 200, "n_test": 60},
    "tree": {"permutations": 10},
}

TINY_LEADERBOARD = {"scenarios": ["distributions", "attributes"], "gbc": {"pca_dim": 8},
                    "ranking": {"n_boot": 50}}


def tiny_config() -> dict:
    """The default workflow (every default scenario) shrunk to run in about two minutes.

    The shared tiny run (fixture `tiny_run`), the cluster, report and resume tests use it.
    """
    tiny = {
        "synthetic": TINY_SYNTHETIC,
        "distributions": TINY_DISTRIBUTIONS,
        "attributes": TINY_ATTRIBUTES,
        "tasks": TINY_TASKS,
        "leaderboard": TINY_LEADERBOARD,
    }
    return yaml.safe_load(yaml.safe_dump({"scenarios": list(tiny), **tiny}, sort_keys=False))


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """Working directory of the one complete run of tiny_config() of this test session.

    Read it, never change it: several tests check their scenario's outputs there.
    """
    from cluster.workflow_runs import reference_run

    return reference_run(tmp_path_factory)


#: Modules whose tests read the shared tiny run (besides users of the `tiny_run` fixture).
TINY_RUN_MODULES = ("test_resume.py", "test_report.py")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """The SLURM test first, the readers of the shared tiny run last.

    The SLURM run waits on status polls while the tiny run computes beside it; under
    pytest-xdist the other workers meanwhile run every test that does not need the tiny
    run, instead of waiting for it.
    """

    def rank(item) -> int:
        if item.path.name == "test_cluster.py":
            return 0
        uses_run = "tiny_run" in getattr(item, "fixturenames", ())
        return 2 if uses_run or item.path.name in TINY_RUN_MODULES else 1

    items.sort(key=rank)  # stable: the order within each rank is kept
