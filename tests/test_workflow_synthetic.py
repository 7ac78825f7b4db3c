"""The real Snakemake DAG of the synthetic scenario on a tiny config."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from conftest import copy_run, run_snakemake, write_config

pytestmark = pytest.mark.workflow


def planned_rules(workdir) -> set[str]:
    """Rules a dry run would execute (from the job-stats table)."""
    proc = run_snakemake(workdir, "-n")
    text = proc.stdout + proc.stderr
    if "Nothing to be done" in text:
        return set()
    stats = text.split("Job stats:")[1].split("\n\n")[0]
    rows = [line.split() for line in stats.strip().splitlines()[2:]]
    return {row[0] for row in rows if len(row) == 2 and row[0] != "total"}


def test_synthetic_dag_end_to_end(tiny_run, tmp_path, tiny_synthetic_config):
    # the synthetic scenario of the shared tiny run (TINY_SYNTHETIC), in a copy this test
    # may change; with only the synthetic scenario configured, the sweep and its models are
    # up to date and only the cross-scenario summaries (tables, findings) are redone
    copy_run(tiny_run, tmp_path)
    write_config(tmp_path, tiny_synthetic_config)
    proc = run_snakemake(tmp_path)
    assert "rule sweep_transferability:" not in proc.stdout + proc.stderr
    table = pd.read_csv(tmp_path / "results/default/synthetic/sweep.tsv", sep="\t")
    assert len(table) == 2 * 2 * 3  # sets x directions x t
    assert set(table["set"]) == {"derived", "independent"}
    for col in ("tau1", "tau2", "alpha", "thm2_bound", "grad_diff", "thm3_bound",
                "transferred_loss", "target_loss", "beta", "affine_transferred_loss",
                "prop2_lower", "first_order_cross_loss", "prop2_upper", "thm3_ratio"):
        assert table[col].notna().all(), col
    assert (table["prop2_lower"] <= table["first_order_cross_loss"] * (1 + 1e-12)).all()
    assert (table["first_order_cross_loss"] <= table["prop2_upper"] * (1 + 1e-12)).all()
    assert (table["affine_transferred_loss"] >= table["transferred_loss"] * (1 - 1e-9)).all()
    # Figure 2's caption: the description plus findings computed from this very table
    from advtransfer.synthetic.caption import figure2_findings

    caption = (tmp_path / "results/default/synthetic/figure2_caption.rst").read_text()
    assert caption.startswith("Paper Figure 2") and figure2_findings(table) in caption
    derived0 = table[(table["set"] == "derived") & (table["t"] == 0.0)]
    assert derived0["tau1"].to_numpy() == pytest.approx(1.0, abs=1e-9)
    assert (table["thm2_bound"] >= table["grad_diff"]).all()
    assert (table["thm3_bound"] >= table["g_transferred_loss"]).all()
    png = (tmp_path / "results/default/synthetic/figure2.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert (tmp_path / "results/default/synthetic/models/target.safetensors").exists()
    assert (tmp_path / "logs/default/synthetic/train_mlp/target.log").stat().st_size > 0
    assert (tmp_path / "benchmarks/runs/default/synthetic/sweep_transferability/derived.tsv").exists()

    # a second invocation has nothing to do
    assert planned_rules(tmp_path) == set()

    # changing the t grid re-runs only the sweep and the figure
    tiny_synthetic_config["synthetic"]["sweep"]["t"] = [0.0, 0.25, 1.0]
    write_config(tmp_path, tiny_synthetic_config)
    assert planned_rules(tmp_path) == {"sweep_transferability", "plot_figure2", "render_tables",
                                       "write_findings", "all"}
    run_snakemake(tmp_path)
    table = pd.read_csv(tmp_path / "results/default/synthetic/sweep.tsv", sep="\t")
    assert sorted(set(table["t"])) == [0.0, 0.25, 1.0]

    # threads are set per rule (profile or --set-threads) and reach the job's torch
    log = tmp_path / "logs/default/synthetic/sweep_transferability/derived.log"
    assert "rule sweep_transferability {'set': 'derived'}, 1 thread(s)" in log.read_text()
    run_snakemake(tmp_path, "--set-threads", "sweep_transferability=2",
                  "--forcerun", "sweep_transferability")
    assert "rule sweep_transferability {'set': 'derived'}, 2 thread(s)" in log.read_text()


@pytest.mark.parametrize(
    ("mutate", "pattern"),
    [
        (lambda c: c["synthetic"].update(bogus=1), r"synthetic\.bogus"),
        (lambda c: c["synthetic"]["sweep"].update(directions="five"), r"synthetic\.sweep\.directions"),
        (lambda c: c["synthetic"]["sweep"].update(t=[0.0, 1.5]), r"synthetic\.sweep\.t\[1\]"),
        (lambda c: c.update(scenarios=["nope"]), r"scenarios\[0\]"),
    ],
)
def test_invalid_config_fails_before_any_job(tmp_path, tiny_synthetic_config, mutate, pattern):
    mutate(tiny_synthetic_config)
    write_config(tmp_path, tiny_synthetic_config)
    proc = run_snakemake(tmp_path, check=False)
    assert proc.returncode != 0
    message = proc.stdout + proc.stderr
    assert re.search(pattern, message), message
    assert not (tmp_path / "results").exists()
