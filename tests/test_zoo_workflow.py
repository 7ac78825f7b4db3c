"""The model zoo through the real Snakemake DAG, on a reduced zoo: 2 families x 2 sizes x
2 source data sets = 8 sources, 2 target tasks. Its outputs, its data dictionary, the
findings section, and that each zoo knob re-runs only its stage and what lies downstream."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, run_snakemake, write_config
from test_staleness import downstream, dry_run, first_jobs, nested

from advtransfer import datadict

pytestmark = pytest.mark.workflow

TINY_ZOO = {
    "datasets": {"lower": {"classes": ["zero", "one", "two", "three", "four"]},
                 "parity": {"classes": "all", "labels": "parity"}},
    "targets": {"shifted": {"transform": "digits_shift"},
                "loops": {"labels": "loops", "transform": "none"}},
    "families": ["mlp", "cnn"],
    "train": {"epochs": 2},
    "attack": {"steps": 3, "n_images": 40},
    "jacobian_points": 10,
    "probe": {"C_grid": [0.1, 1.0], "kshot": {"k": 3, "draws": 2}},
    "ranking": {"n_boot": 60, "n_perm": 60, "random_draws": 60},
    "robustness": {"subset_sizes": [4, 6], "n_subsets": 30},
}
BASE = "results/default/zoo"


@pytest.fixture(scope="module")
def zoo_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("zoo")
    write_config(workdir, {"scenarios": ["zoo"], "zoo": TINY_ZOO,
                           "leaderboard": {"gbc": {"pca_dim": 8}}})
    run_snakemake(workdir)
    return workdir


def test_zoo_tables(zoo_run):
    base = zoo_run / BASE
    transfer = pd.read_csv(base / "transfer.tsv", sep="\t")
    assert len(transfer) == 8 * 2 and transfer.groupby("target")["model"].nunique().eq(8).all()
    assert set(transfer["family"]) == {"mlp", "cnn"} and set(transfer["dataset"]) == {"lower", "parity"}
    size = transfer.groupby("model")["param_count"].first()
    assert size.max() / size.min() > 10  # sizes over at least a 10x range
    for col in ("cross_adv_loss", "tau1", "probe_accuracy", "kshot_accuracy", "log_me", "nleep",
                "sfda", "ncti", "etran", "param_count", "source_val_accuracy"):
        assert transfer[col].notna().all(), col
    board = pd.read_csv(base / "leaderboard.tsv", sep="\t")
    assert set(board["target"]) == {"shifted", "loops", "mean"}
    mean = board[(board["target"] == "mean") & (board["truth"] == "probe_accuracy")]
    assert {"param_count", "source_val_accuracy", "random", "cross_adv_loss", "log_me",
            "nleep", "sfda", "ncti", "etran"} <= set(mean["measure"])
    ranked = mean[mean["measure"] != "random"]
    assert (ranked["n_targets"] == 2).all() and (ranked["n_sources"] == 8).all()
    finite = ranked[ranked["weighted_tau"].notna()]
    assert (finite["weighted_tau_lo"] <= finite["weighted_tau"] + 1e-12).all()
    assert (finite["weighted_tau"] <= finite["weighted_tau_hi"] + 1e-12).all()
    per_target = board[(board["target"] == "loops") & (board["truth"] == "probe_accuracy")]
    assert per_target["primary"].astype(str).str.lower().eq("true").sum() == 1
    pairs = pd.read_csv(base / "leaderboard_robustness.tsv", sep="\t")
    m = ranked["measure"].nunique()
    assert len(pairs) == m * (m - 1)
    both = pairs.merge(pairs, left_on=["measure_a", "measure_b"], right_on=["measure_b", "measure_a"])
    ok = both[["subset_share_x", "subset_share_y"]].notna().all(axis=1)
    assert np.allclose(both.loc[ok, "subset_share_x"] + both.loc[ok, "subset_share_y"], 1.0)
    costs = pd.read_csv(base / "measure_costs.tsv", sep="\t").set_index("measure")
    assert costs.loc["cross_adv_loss", "needs_reference_model"]
    assert not costs.loc["log_me", "needs_gradients"] and costs.loc["leep", "needs_logits"]
    assert costs.loc["cross_adv_loss", "cost_s"] > 0 and costs.loc["log_me", "compute_s"] > 0
    for name in ("leaderboard", "robustness", "cost"):
        assert (base / f"{name}.png").stat().st_size > 5_000 and (base / f"{name}.svg").is_file()


def test_zoo_tables_are_documented_and_found(zoo_run):
    d = datadict.load(REPO / "schemas/outputs.yaml")
    tables = {str(p.relative_to(zoo_run)): list(pd.read_csv(p, sep="\t", nrows=0).columns)
              for p in sorted((zoo_run / BASE).rglob("*.tsv"))}
    assert len(tables) >= 4 + 8 + 2 + 2
    problems = [p for p in datadict.table_problems(d, tables) if "/zoo/" in p.split(":")[0]]
    assert not problems, "schemas/outputs.yaml is out of date:\n" + "\n".join(problems)
    findings = (zoo_run / "results/default/findings.md").read_text()
    assert "## zoo:" in findings and "**Verdict:**" in findings
    assert "Size baseline: `param_count`" in findings and "Without the largest third" in findings
    page = (zoo_run / BASE / "leaderboard.html").read_text()
    assert "weighted_tau" in page


#: (zoo knob, new value, first stage(s) that must re-run) on the reduced zoo
ZOO_KNOBS = [
    ("zoo.split_seed", 1, ["build_zoo_data"]),
    ("zoo.train.epochs", 1, ["train_zoo_model"]),
    ("zoo.reference.seed", 1, [f"{BASE}/models/reference_shifted.safetensors",
                               f"{BASE}/models/reference_loops.safetensors"]),
    ("zoo.attack.steps", 2, ["attack_zoo_reference", "measure_zoo_adversarial"]),
    ("zoo.jacobian_points", 8, ["measure_zoo_adversarial"]),
    ("zoo.probe.C", 0.5, ["probe_zoo"]),
    ("leaderboard.knn.k", 3, ["score_zoo_estimators"]),
    ("zoo.ranking.n_boot", 40, ["rank_zoo"]),
    ("zoo.robustness.n_subsets", 12, ["rank_zoo"]),
]


@pytest.fixture(scope="module")
def zoo_dag(zoo_run):
    assert dry_run(zoo_run) == {}, "the zoo run is not up to date"
    return dry_run(zoo_run, "--forceall")


@pytest.mark.parametrize(("knob", "value", "stages"), ZOO_KNOBS, ids=[k[0] for k in ZOO_KNOBS])
def test_zoo_knob_reruns_only_its_stage(zoo_run, zoo_dag, tmp_path, knob, value, stages):
    change = tmp_path / "change.yaml"
    change.write_text(yaml.safe_dump(nested(knob, value)))
    planned = set(dry_run(zoo_run, "--configfile", str(zoo_run / "config.yaml"), str(change)))
    expected = downstream(zoo_dag, first_jobs(zoo_dag, knob, stages))
    assert planned == expected, (
        f"{knob}: planned but not downstream: {sorted(planned - expected)}; "
        f"downstream but not planned: {sorted(expected - planned)}")
