"""The tasks scenario through the real Snakemake DAG: digits default and Taskonomy on tiny fakes."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, TINY_TASKS, run_snakemake, write_config
from test_taskbank import write_fake_images, write_fake_weights

pytestmark = pytest.mark.workflow

OUTPUTS = ["atm.tsv", "affinity.tsv", "tau_matrix.tsv", "entropy.tsv", "clusters.tsv",
           "figure4.png", "figure5.png", "figure4.svg", "figure5.svg", "heatmap_tau1.png",
           "heatmap_tau2.png"]


def check_outputs(workdir, tasks, eps, self_transfer="exclude", run="default"):
    base = workdir / "results" / run / "tasks"
    for name in OUTPUTS:
        assert (base / name).stat().st_size > 0, name
    atm = pd.read_csv(base / "atm.tsv", sep="\t")
    assert list(atm.columns) == ["eps", "target", *tasks]
    assert sorted(atm["eps"].unique()) == sorted(eps)
    for _, block in atm.groupby("eps"):
        matrix = block[tasks].to_numpy()
        assert list(block["target"]) == tasks and np.all(matrix > 0)
        if self_transfer == "exclude":  # off-diagonal rows are distributions, diag = row max
            off = matrix * (1 - np.eye(len(tasks)))
            assert np.allclose(off.sum(axis=1), 1.0)
            assert np.allclose(np.diag(matrix), off.max(axis=1))
    check_tau_matrix(base, tasks)
    entropy = pd.read_csv(base / "entropy.tsv", sep="\t")
    n = len(tasks)
    assert set(entropy["tree"]) == {"adversarial", "knowledge", "random", "tau1", "tau2"}
    for name in ("tau1", "tau2"):  # the tau trees vs categories, knowledge and every ATM
        rows = entropy[entropy["tree"] == name]
        assert set(rows["reference"]) == {"a_priori", "knowledge", "adversarial"}
        assert len(rows) == n * (2 + len(eps)) and rows["ari"].notna().all()
    clusters = pd.read_csv(base / "clusters.tsv", sep="\t")
    assert {"tau1", "tau2"} <= set(clusters["tree"])
    adv = entropy[(entropy["tree"] == "adversarial") & (entropy["reference"] == "knowledge")]
    assert len(adv) == n * len(eps) and set(adv["k"]) == set(range(1, n + 1))
    assert (adv.loc[adv["k"] == n, "entropy"] == 0).all()
    assert (adv.loc[adv["k"] == 1, "entropy"] == 0).all()  # one cluster vs one category
    return atm, entropy


def check_tau_matrix(base, tasks):
    """tau_matrix.tsv: one target x source block per measure, tau values in [0, 1]."""
    tau = pd.read_csv(base / "tau_matrix.tsv", sep="\t")
    assert list(tau.columns) == ["measure", "target", *tasks]
    assert list(tau["measure"].unique()) == ["tau1", "tau2", "alpha", "n_not_converged"]
    for measure, block in tau.groupby("measure"):
        assert list(block["target"]) == tasks
        values = block[tasks].to_numpy()
        if measure == "n_not_converged":
            assert (values >= 0).all() and np.all(values == np.round(values))
        else:
            assert np.isfinite(values).all(), measure
            assert (values >= -1e-6).all() and (values <= 1 + 1e-6).all(), measure
            assert np.allclose(np.diag(values), 1.0, atol=1e-4), measure  # a model with itself
    t1 = tau[tau["measure"] == "tau1"][tasks].to_numpy()
    assert np.allclose(t1, t1.T, atol=1e-6)  # tau1 is symmetric in source and target


def test_digits_tasks_dag(tiny_run):
    """The shared tiny run's tasks outputs (conftest.TINY_TASKS)."""
    tmp_path = tiny_run
    tasks = TINY_TASKS["tasks"]
    check_outputs(tmp_path, tasks, [0.1])
    affinity = pd.read_csv(tmp_path / "results/default/tasks/affinity.tsv", sep="\t")
    assert list(affinity.columns) == ["target", *tasks]
    meta = yaml.safe_load((tmp_path / "results/default/tasks/models/digit.json").read_text())
    assert meta["arch"] == "digits_tasknet" and meta["task"]["loss"] == "ce"
    assert meta["seed"] == 7  # tasks.train.seed 0 + the canonical index of digit
    adversarial = pd.read_csv(tmp_path / "results/default/tasks/adversarial/rotation.tsv", sep="\t")
    assert set(adversarial["target"]) == set(tasks) and len(adversarial) == 3 * 40
    for stage in ("train_task_model", "attack_task", "transfer_task_encoder"):
        assert (tmp_path / f"logs/default/tasks/{stage}/digit.log").stat().st_size > 0


TINY_TASKBANK = ["rgb2depth", "segmentsemantic", "class_1000"]


def taskonomy_config(tmp_path, weights_dir, images_dir, affinity):
    cfg = yaml.safe_load((REPO / "configs/taskonomy.yaml").read_text())
    t = cfg["tasks"]
    t["tasks"] = TINY_TASKBANK
    t["taskbank"].update(weights_dir=str(weights_dir), images_dir=str(images_dir),
                         image_size=32, width=4, affinity=str(affinity))
    t["attack"].update(n_images=4, steps=2, batch_size=2)
    t["tree"]["permutations"] = 5
    return cfg


def test_paper_config_on_tiny_taskbank(tmp_path):
    weights, images = tmp_path / "taskbank", tmp_path / "rgb"
    for i, task in enumerate(TINY_TASKBANK):
        write_fake_weights(weights, task, width=4, image_size=32, seed=i)
    write_fake_images(images, 6)
    aliases = {"segmentsemantic": "segmentsemantic_rb"}
    rng = np.random.default_rng(0)
    fake = {f"{aliases.get(s, s)}__{aliases.get(t, t)}": float(rng.uniform(0.01, 0.5))
            for s in TINY_TASKBANK for t in TINY_TASKBANK}
    (tmp_path / "aff.pkl").write_bytes(pickle.dumps(fake, protocol=3))
    write_config(tmp_path, taskonomy_config(tmp_path, weights, images, tmp_path / "aff.pkl"))
    run_snakemake(tmp_path)
    assert not (tmp_path / "results/default").exists()  # the config's own run: taskonomy
    check_outputs(tmp_path, TINY_TASKBANK, [0.03, 0.06], run="taskonomy")
    affinity = pd.read_csv(tmp_path / "results/taskonomy/tasks/affinity.tsv",
                           sep="\t").set_index("target")
    # knowledge: keep -> Taskonomy's values as published, rows = targets, columns = sources
    assert affinity.loc["rgb2depth", "class_1000"] == pytest.approx(
        fake["class_1000__rgb2depth"])
    meta = yaml.safe_load((tmp_path / "results/taskonomy/tasks/taskbank/class_1000.json").read_text())
    assert meta["arch"] == "taskbank" and meta["config"]["width"] == 4
    assert meta["encoder_file"] == "class_object_encoder-fake.pth"
    data_log = (tmp_path / "logs/taskonomy/tasks/build_task_data.log").read_text()
    assert "4 images" in data_log


def test_missing_taskonomy_inputs_are_named_before_any_job(tmp_path):
    write_fake_weights(tmp_path / "taskbank", "rgb2depth", width=4, image_size=32)
    write_fake_images(tmp_path / "rgb", 2)
    write_config(tmp_path, taskonomy_config(tmp_path, tmp_path / "taskbank", tmp_path / "rgb",
                                            tmp_path / "no.pkl"))
    proc = run_snakemake(tmp_path, check=False)
    assert proc.returncode != 0
    text = proc.stdout + proc.stderr
    # every problem at once: weights of the other tasks, too few images, the affinity file
    assert str(tmp_path / "taskbank" / "segment_semantic_encoder*.pth") in text
    assert "depth_zbuffer" not in text and "visualpriors" in text
    assert "need 4 images" in text and "found 2" in text
    assert str(tmp_path / "no.pkl") in text and "StanfordVL/taskonomy" in text
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()
