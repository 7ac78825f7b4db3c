"""Changing one config knob re-runs exactly its first stage and what lies downstream.

Table-driven: KNOBS maps a dotted config key (and a new value) to the first stage that
must re-run. Everything downstream of that stage is read from the DAG of the shared tiny
run itself (`snakemake -n --forceall`: each job's inputs, outputs and benchmark), so adding
a knob is one line. Dry runs only, on the finished shared tiny run (fixture `tiny_run`),
with the change in an extra `--configfile` outside the working directory.

A first stage is a rule name (its jobs of the knob's scenario, i.e. whose outputs lie under
results/<scenario>/; every job of the rule when none does, e.g. the leaderboard rules) or
an output path (the one job that writes it).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from conftest import run_snakemake

pytestmark = pytest.mark.workflow

#: (dotted config key, new value, first stage(s) that must re-run)
KNOBS = [
    # synthetic: data -> train -> sweep (Jacobian points of the sweep) -> figure
    ("synthetic.seed", 7, ["generate_rbf_data"]),
    ("synthetic.data.n_rbf", 10, ["generate_rbf_data"]),
    ("synthetic.target.steps", 150, ["results/default/synthetic/models/target.safetensors"]),
    ("synthetic.independent.lr", 0.03, ["results/default/synthetic/models/independent.safetensors"]),
    ("synthetic.sweep.directions", 3, ["sweep_transferability"]),
    ("synthetic.sweep.direction_scale", 0.4, ["sweep_transferability"]),
    # distributions
    ("distributions.split_seed", 1, ["build_distribution_datasets"]),
    ("distributions.target_split", [0.6, 0.1, 0.3], ["build_distribution_datasets"]),
    ("distributions.train.epochs", 1, ["train_classifier"]),
    ("distributions.reference_seed", 3, ["results/default/distributions/models/reference.safetensors"]),
    ("distributions.attack.eps", 0.05, ["attack_pgd"]),
    ("distributions.attack.steps", 2, ["attack_pgd"]),
    ("distributions.jacobian_points", 10, ["measure_adversarial"]),
    ("distributions.probe.C", 0.5, ["fit_linear_probe"]),
    ("distributions.probe.kshot.draws", 3, ["fit_linear_probe"]),
    ("distributions.correlation.n_boot", 40, ["summarize_transfer"]),
    ("distributions.correlation.seed", 1, ["summarize_transfer"]),
    # attributes
    ("attributes.split_seed", 1, ["build_attribute_datasets"]),
    ("attributes.holdout", 0.25, ["build_attribute_datasets"]),
    ("attributes.train.epochs", 1, [
        "results/default/attributes/models/even_s0.safetensors",
        "results/default/attributes/models/prime_s0.safetensors",
        "results/default/attributes/models/ink_s0.safetensors",
    ]),
    ("attributes.reference_train.epochs", 2, ["results/default/attributes/models/reference.safetensors"]),
    ("attributes.attack.eps", 0.05, ["attack_pgd"]),
    ("attributes.jacobian_points", 10, ["measure_adversarial"]),
    ("attributes.probe.C", 0.5, ["measure_recognition"]),
    ("attributes.verification.flip", True, ["measure_recognition"]),
    ("attributes.correlation.n_boot", 40, ["summarize_attributes"]),
    ("attributes.table1.top", 3, ["summarize_attributes"]),
    # tasks
    ("tasks.digits.seed", 1, ["build_task_data"]),
    ("tasks.train.epochs", 1, ["train_task_model"]),
    ("tasks.attack.steps", 3, ["attack_task"]),
    ("tasks.knowledge.ridge", 0.01, ["transfer_task_encoder"]),
    ("tasks.self_transfer.adversarial", "keep", ["build_atm"]),
    ("tasks.self_transfer.knowledge", "keep", ["build_affinity"]),
    ("tasks.tree.permutations", 12, ["cluster_tasks"]),
    ("tasks.tree.method", "average", ["cluster_tasks", "plot_task_heatmaps"]),
    ("tasks.tree.report_k", 2, ["cluster_tasks"]),
    # leaderboard
    ("leaderboard.split", "train_val", ["score_estimators"]),
    ("leaderboard.knn.k", 3, ["score_estimators"]),
    ("leaderboard.gbc.pca_dim", 6, ["score_estimators"]),
    ("leaderboard.batch_size", 32, ["score_estimators"]),
    ("leaderboard.ranking.n_boot", 40, ["rank_estimators"]),
    ("leaderboard.ranking.confidence", 0.9, ["rank_estimators"]),
    ("leaderboard.truth", ["probe_accuracy"], ["rank_estimators"]),
]

_JOB = re.compile(r"^(?:local)?rule (\w+):\n((?:    .*\n)*)", re.MULTILINE)


def parse_jobs(text: str) -> dict[str, dict]:
    """Jobs of a dry run: {key: {"rule", "input", "output"}}, key = "rule: outputs".

    The benchmark file counts as an output (rules may read other jobs' benchmarks).
    """
    jobs = {}
    for match in _JOB.finditer(text):
        fields = {}
        for line in match.group(2).splitlines():
            name, _, value = line.strip().partition(": ")
            fields[name] = [v for v in value.split(", ") if v]
        outputs = fields.get("output", []) + fields.get("benchmark", [])
        key = f"{match.group(1)}: {', '.join(fields.get('output', [])) or '<no output>'}"
        jobs[key] = {"rule": match.group(1), "input": set(fields.get("input", [])),
                     "output": set(outputs)}
    return jobs


def dry_run(workdir: Path, *args: str) -> dict[str, dict]:
    proc = run_snakemake(workdir, "-n", *args)
    text = proc.stdout + proc.stderr
    return {} if "Nothing to be done" in text else parse_jobs(text)


@pytest.fixture(scope="module")
def dag(tiny_run) -> dict[str, dict]:
    """Every job of the shared tiny run, with its inputs and outputs."""
    assert dry_run(tiny_run) == {}, "the shared tiny run is not up to date"
    jobs = dry_run(tiny_run, "--forceall")
    assert jobs, "the forced dry run listed no job"
    return jobs


def downstream(dag: dict[str, dict], first: set[str]) -> set[str]:
    """The jobs `first` and every job that (transitively) reads one of their outputs."""
    out, frontier = set(first), set(first)
    while frontier:
        made = set().union(*(dag[k]["output"] for k in frontier))
        frontier = {k for k, job in dag.items() if k not in out and job["input"] & made}
        out |= frontier
    return out


def first_jobs(dag: dict[str, dict], knob: str, stages: list[str]) -> set[str]:
    scenario = knob.split(".")[0]
    found = set()
    for stage in stages:
        if "/" in stage:
            jobs = {k for k, job in dag.items() if stage in job["output"]}
        else:
            jobs = {k for k, job in dag.items() if job["rule"] == stage}
            mine = {k for k in jobs
                    if any(o.startswith(f"results/default/{scenario}/") for o in dag[k]["output"])}
            jobs = mine or jobs
        assert jobs, f"table entry {knob}: no job matches first stage {stage!r}"
        found |= jobs
    return found


def nested(knob: str, value) -> dict:
    out: dict = {}
    node = out
    *parents, leaf = knob.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    return out


@pytest.mark.parametrize(("knob", "value", "stages"), KNOBS, ids=[k[0] for k in KNOBS])
def test_knob_reruns_only_its_stage_and_downstream(tiny_run, dag, tmp_path, knob, value, stages):
    change = tmp_path / "change.yaml"
    change.write_text(yaml.safe_dump(nested(knob, value)))
    planned = set(dry_run(tiny_run, "--configfile", str(tiny_run / "config.yaml"), str(change)))
    expected = downstream(dag, first_jobs(dag, knob, stages))
    assert planned == expected, (
        f"changing {knob} to {value!r}:\n  planned but not downstream of {stages}: "
        f"{sorted(planned - expected)}\n  downstream but not planned: {sorted(expected - planned)}"
    )
