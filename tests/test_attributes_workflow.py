"""The attributes scenario through the real Snakemake DAG: digits, and CelebA + .bin fakes."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from conftest import REPO, run_snakemake, write_config
from fakes_faces import write_fake_bin, write_fake_celeba

pytestmark = pytest.mark.workflow

OUTPUTS = ["transfer.tsv", "correlation.tsv", "table1.tsv", "table1.png", "table1.svg",
           "scatter.png", "scatter.svg"]


def check_outputs(workdir, attributes: list[str], benchmarks: list[str], top: int,
                  run: str = "default") -> pd.DataFrame:
    base = workdir / "results" / run / "attributes"
    for name in OUTPUTS:
        assert (base / name).stat().st_size > 0, name
    table = pd.read_csv(base / "transfer.tsv", sep="\t")
    assert sorted(table["attribute"]) == sorted(attributes)
    cols = ["cross_adv_loss", "tau1", "tau2", "alpha", "flip_rate",
            "verification_accuracy", *(f"verif_{b}" for b in benchmarks), "kshot_accuracy",
            "probe_accuracy", "source_val_accuracy"]
    for col in cols:
        assert table[col].notna().all(), col
    assert "adv_transferability" not in table
    assert table[["tau1", "tau2", "alpha"]].stack().between(-1e-9, 1 + 1e-9).all()
    assert table[[f"verif_{b}" for b in benchmarks]].stack().between(0, 1).all()
    top1 = pd.read_csv(base / "table1.tsv", sep="\t")
    assert len(top1) == top + 1 and top1["attribute"].iloc[-1] == "identity (reference)"
    ranked = table.sort_values("cross_adv_loss", ascending=False)["attribute"]
    assert list(top1["attribute"][:top]) == list(ranked[:top])
    corr = pd.read_csv(base / "correlation.tsv", sep="\t")
    assert {"spearman", "spearman_lo", "spearman_hi", "kendall"} <= set(corr.columns)
    assert len(corr) == 6 * (len(benchmarks) + 3)
    return table


def test_digits_attributes_dag(tiny_run):
    """The shared tiny run's attributes outputs (conftest.TINY_ATTRIBUTES)."""
    check_outputs(tiny_run, ["even", "prime", "ink"], ["digits", "digits_shift"], top=2)
    models = tiny_run / "results/default/attributes/models"
    ref = json.loads((models / "reference.json").read_text())
    assert ref["head"] == "arcface" and ref["classes"][:2] == ["zero", "one"]
    assert ref["train"]["loss"] == "focal"
    even = json.loads((models / "even_s0.json").read_text())
    assert even["classes"] == ["not even", "even"] and even["labels"] == "attr_even"
    assert "head" not in even and even["val_accuracy"] > 0.6
    # a second run has nothing to do
    proc = run_snakemake(tiny_run, "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def _celeba_config(tmp_path, benchmarks: list[str]) -> dict:
    cfg = yaml.safe_load((REPO / "configs/celeba.yaml").read_text())
    a = cfg["attributes"]
    a["data_root"] = str(tmp_path / "data")
    a["attributes"] = ["Smiling", "Male"]
    a["image_size"] = 32  # the paper's 112 px, shrunk for a CPU
    a["split"] = [0.5, 0.25, 0.25]
    a["train"].update(epochs=1, batch_size=4)
    a["reference_train"].update(epochs=1, batch_size=4)
    a["attack"].update(n_images=4, steps=1, batch_size=4)
    a["jacobian_points"] = 2
    a["jacobian_output"] = "logits"  # the features path costs 512 backward passes per model
    a["probe"].update(identities=None, kshot={"k": 1, "draws": 2, "seed": 0})
    a["verification"].update(benchmarks=benchmarks, bin_dir=str(tmp_path / "bins"))
    a["correlation"]["n_boot"] = 20
    a["table1"]["top"] = 2
    return cfg


def test_paper_config_on_fake_celeba_and_bin(tmp_path):
    write_fake_celeba(tmp_path / "data", identities={"train": 3, "val": 1, "test": 2},
                      images_per_identity=4, seed=0)
    write_fake_bin(tmp_path / "bins/lfw.bin", n_pairs=20, size=112, seed=1, style="py2",
                   fmt="JPEG")
    write_fake_bin(tmp_path / "bins/cfp_fp.bin", n_pairs=20, size=112, seed=2, style="py3",
                   fmt="JPEG")
    write_config(tmp_path, _celeba_config(tmp_path, ["lfw", "cfp_fp"]))
    run_snakemake(tmp_path)
    assert not (tmp_path / "results/default").exists()  # the config's own run: celeba
    check_outputs(tmp_path, ["Smiling", "Male"], ["lfw", "cfp_fp"], top=2, run="celeba")
    ref = json.loads((tmp_path / "results/celeba/attributes/models/reference.json").read_text())
    assert ref["arch"] == "resnet18_torchvision" and ref["head"] == "arcface"
    assert ref["num_classes"] == 3  # identities of the official train partition
    log = (tmp_path / "logs/celeba/attributes/build_attribute_datasets.log").read_text()
    assert "lfw: 20 pairs" in log and "probe: 2 classes" in log


def test_missing_bin_benchmarks_are_named_before_training(tmp_path):
    write_fake_celeba(tmp_path / "data", identities={"train": 2, "val": 1, "test": 1},
                      images_per_identity=2, seed=0)
    write_fake_bin(tmp_path / "bins/lfw.bin", n_pairs=10, size=16)
    write_config(tmp_path, _celeba_config(tmp_path, ["lfw", "agedb_30", "cplfw"]))
    # checked when the DAG is built: a dry run already fails, before any job
    proc = run_snakemake(tmp_path, "-n", check=False)
    assert proc.returncode != 0
    log = proc.stdout + proc.stderr
    assert "2 verification benchmark(s) missing" in log
    assert f"AgeDB-30 (agedb_30): {tmp_path / 'bins/agedb_30.bin'}" in log
    assert f"CPLFW (cplfw): {tmp_path / 'bins/cplfw.bin'}" in log and "LFW (lfw)" not in log
    assert not (tmp_path / "results").exists()
