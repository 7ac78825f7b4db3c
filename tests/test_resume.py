"""An interrupted run resumes: SIGKILL the tiny default workflow mid-training, run it again.

The kill lands while a training job runs (its log exists) and Snakemake has jobs in
flight (incomplete markers in .snakemake/incomplete). To make the worst case certain, every
in-flight output the killed jobs had not written yet is then planted with garbage, as a
non-atomic writer killed mid-write would leave it. The resumed run (profiles/default sets
rerun-incomplete) must redo those jobs, leave no half-written file behind (no
advtransfer.io.atomic_path `*.part` file, no incomplete marker), and end with the tables of
an uninterrupted run.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from cluster.workflow_runs import assert_same_tables, reference_run, snakemake_command
from conftest import REPO, run_snakemake, tiny_config, write_config

pytestmark = pytest.mark.workflow

START_TIMEOUT_S = 300
GARBAGE = b"half-written by a job killed with SIGKILL\n"


def training_logs(workdir: Path) -> list[Path]:
    """Logs of training jobs: logs/<scenario>/train*/... or logs/<scenario>/train*.log."""
    logs = workdir / "logs"
    if not logs.is_dir():
        return []
    return [
        path
        for path in logs.rglob("*.log")
        if any(part.startswith("train") for part in path.relative_to(logs).parts)
    ]


def incomplete_outputs(workdir: Path) -> list[str]:
    """Outputs Snakemake marked incomplete (jobs started but not finished)."""
    root = workdir / ".snakemake" / "incomplete"
    if not root.is_dir():
        return []
    outputs = []
    for marker in root.rglob("*"):
        if marker.is_file() and marker.name != "migration_underway":
            parts = [part.removeprefix("@") for part in marker.relative_to(root).parts]
            outputs.append(base64.urlsafe_b64decode("".join(parts)).decode())
    return outputs


def kill_mid_training(workdir: Path) -> list[str]:
    """Start the workflow, SIGKILL its process group once a training job runs.

    Returns the outputs marked incomplete at the moment of the kill.
    """
    log = open(workdir / "killed-run.out", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        snakemake_command(workdir), stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONHASHSEED": "0"}, start_new_session=True,
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"workflow ended (rc {proc.returncode}) before a training job was caught:\n"
                    + (workdir / "killed-run.out").read_text()[-3000:]
                )
            if training_logs(workdir) and incomplete_outputs(workdir):
                os.killpg(proc.pid, signal.SIGKILL)
                break
            if time.monotonic() > deadline:
                pytest.fail(f"no training job started within {START_TIMEOUT_S} s")
            time.sleep(0.02)
        proc.wait(timeout=60)
        marked = incomplete_outputs(workdir)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
    # nothing of the killed process group survives
    for _ in range(50):
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("processes of the killed workflow are still running")
    return marked


#: The scenarios of the tiny default the killed run holds (the others add time, not cases:
#: the kill lands in a training job, and every scenario writes through the same helpers).
RESUMED = ("synthetic", "distributions")


def test_killed_run_resumes_to_same_tables(tmp_path, tmp_path_factory):
    reference = reference_run(tmp_path_factory)
    config = tiny_config()
    config["scenarios"] = list(RESUMED)
    write_config(tmp_path, config)

    marked = kill_mid_training(tmp_path)
    assert marked, "no job was in flight when the workflow was killed"
    final = {
        p.relative_to(reference)
        for scenario in RESUMED
        for p in (reference / "results" / "default" / scenario).rglob("*.tsv")
        if p.name not in {"leaderboard.tsv", "source_scores.tsv", "estimators.tsv"}
    }
    done = {p.relative_to(tmp_path) for p in (tmp_path / "results").rglob("*.tsv")}
    assert final - done, "the workflow had finished before it was killed"

    planted = []
    for name in marked:
        path = tmp_path / name
        if path.suffix and not path.exists():  # a file output the killed job never wrote
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(GARBAGE)
            planted.append(path)

    # a killed Snakemake leaves its lock behind: the documented way back is --unlock
    run_snakemake(tmp_path, "--unlock")
    proc = run_snakemake(tmp_path)
    output = proc.stdout + proc.stderr
    for path in planted:
        assert path.read_bytes() != GARBAGE, f"{path} was not rebuilt:\n{output[-3000:]}"

    leftovers = list(tmp_path.rglob("*.part"))
    assert not leftovers, f"half-written files survived: {leftovers}"
    assert not incomplete_outputs(tmp_path), "incomplete markers survived the second run"
    dry = run_snakemake(tmp_path, "-n")
    assert "Nothing to be done" in dry.stdout + dry.stderr, "the resumed run left work undone"
    assert_same_tables(tmp_path, reference, subset=True)


def test_benchmarks_summarize_a_run(tmp_path_factory):
    """benchmarks/summarize.py turns a run's benchmark files into one table per rule."""
    reference = reference_run(tmp_path_factory)
    files = list((reference / "benchmarks" / "runs").rglob("*.tsv"))
    assert files, "no rule of the tiny run wrote a benchmark file"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "summarize.py"), "--by-rule", "--out",
         "summary.tsv"],
        cwd=reference, capture_output=True, text=True, check=True,
    )
    table = pd.read_csv(reference / "summary.tsv", sep="\t", keep_default_na=False)
    runs = reference / "benchmarks" / "runs" / "default"
    # benchmarks/runs/default/<scenario>/<rule>/<wildcards>.tsv or benchmarks/runs/<scenario>/<rule>.tsv
    rules = {path.relative_to(runs).with_suffix("").parts[1] for path in files}
    assert set(table["rule"]) == rules, proc.stdout
    assert table["jobs"].sum() == len(files)
    assert (pd.to_numeric(table["max_rss_mb"]) > 0).all()
    assert (pd.to_numeric(table["mem_mb"]) > 0).all(), "declared memory not found in the logs"
    assert "rule" in proc.stdout and "max_rss_mb" in proc.stdout
