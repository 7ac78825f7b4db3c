"""Helpers shared by test_cluster.py, test_report.py and test_resume.py.

One uninterrupted local run of the tiny default workflow (conftest.tiny_config) per test
session serves as the reference the cluster and resume runs must reproduce; the job
blocks Snakemake prints tell which jobs ran where and with which resources. Nothing here
names a rule or a scenario: everything is read from the run itself.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from conftest import REPO, SNAKEMAKE, run_snakemake, tiny_config, write_config

__all__ = [
    "Job",
    "assert_same_tables",
    "final_outputs",
    "parse_jobs",
    "reference_run",
    "result_tables",
    "snakemake_command",
]

_REFERENCE: dict[str, Path] = {}


def snakemake_command(workdir: Path, *args: str) -> list[str]:
    """The command conftest.run_snakemake runs (for tests that need Popen)."""
    return [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--cores", "2", *args]


def reference_run(tmp_path_factory) -> Path:
    """Working directory of the one complete local run of the tiny default workflow.

    Computed once per test session, also under pytest-xdist: the workers share the
    session's base temporary directory, and the first to ask runs the workflow under a
    file lock while the others wait for it. A failed attempt is removed and redone by the
    next test that asks, so a failure reports in every test that needs the run.
    """
    if "workdir" not in _REFERENCE:
        root = tmp_path_factory.getbasetemp()
        if os.environ.get("PYTEST_XDIST_WORKER"):
            root = root.parent  # popen-gw<i>/.. is common to the session's workers
        workdir = root / "tiny-reference"
        with open(root / "tiny-reference.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            done = workdir / "snakemake.out"
            if not done.is_file():
                shutil.rmtree(workdir, ignore_errors=True)
                write_config(workdir, tiny_config())
                proc = run_snakemake(workdir)
                done.write_text(proc.stdout + proc.stderr)
        _REFERENCE["workdir"] = workdir
    return _REFERENCE["workdir"]


def result_tables(workdir: Path) -> dict[str, pd.DataFrame]:
    """Every TSV table under results/, keyed by its path relative to the working directory."""
    return {
        str(path.relative_to(workdir)): pd.read_csv(path, sep="\t")
        for path in sorted((workdir / "results").rglob("*.tsv"))
    }


def assert_same_tables(actual: Path, expected: Path, subset: bool = False) -> None:
    """The two runs wrote the same TSV tables with equal contents.

    With ``subset``, ``actual`` ran part of ``expected``'s scenarios: each of its tables
    must be among ``expected``'s and equal to it.
    """
    got, want = result_tables(actual), result_tables(expected)
    assert want, f"the reference run in {expected} wrote no TSV table"
    if subset:
        assert got, f"the run in {actual} wrote no TSV table"
        assert set(got) <= set(want), f"tables the reference lacks: {sorted(set(got) - set(want))}"
        want = {name: want[name] for name in got}
    assert sorted(got) == sorted(want), "the runs wrote different tables"
    for name, table in want.items():
        # wall-clock measurements (`<what>_s`, seconds: estimator costs) differ between
        # runs; they must fill the same cells with values >= 0, and everything else equal
        timings = [col for col in table.columns if col.endswith("_s")]
        measured = [frame[timings].to_numpy(dtype=float) for frame in (got[name], table)]
        assert (np.isnan(measured[0]) == np.isnan(measured[1])).all(), (name, timings)
        assert all((np.nan_to_num(m) >= 0).all() for m in measured), (name, timings)
        pd.testing.assert_frame_equal(
            got[name].drop(columns=timings), table.drop(columns=timings), check_exact=False,
            rtol=1e-9, atol=1e-12, obj=name,
        )


@dataclass
class Job:
    """One job block of Snakemake's output (`rule x:` or `localrule x:`)."""

    rule: str
    jobid: int
    local: bool
    resources: dict[str, str] = field(default_factory=dict)
    wildcards: str = ""
    input: list[str] = field(default_factory=list)
    slurm_jobid: str | None = None
    slurm_log: Path | None = None

    @property
    def gpus(self) -> int:
        return int(self.resources.get("gpu", 0) or 0)


_BLOCK = re.compile(r"^(local)?rule (\w+):\n((?:[ \t]+\S.*\n?)*)", re.MULTILINE)
_SUBMITTED = re.compile(
    r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (.+?)\)\.?$", re.MULTILINE
)


def _fields(block: str) -> dict[str, str]:
    out = {}
    for line in block.splitlines():
        key, sep, value = line.strip().partition(": ")
        if sep:
            out[key] = value.strip()
    return out


def parse_jobs(output: str) -> dict[int, Job]:
    """Jobs Snakemake announced in `output`, by Snakemake job id, with their SLURM ids."""
    jobs: dict[int, Job] = {}
    for local, rule, block in _BLOCK.findall(output):
        info = _fields(block)
        if "jobid" not in info:
            continue
        resources = {}
        for item in info.get("resources", "").split(", "):
            key, sep, value = item.partition("=")
            if sep:
                resources[key.strip()] = value.strip()
        job = Job(
            rule=rule,
            jobid=int(info["jobid"]),
            local=bool(local),
            resources=resources,
            wildcards=info.get("wildcards", ""),
            input=[p for p in info.get("input", "").split(", ") if p],
        )
        jobs[job.jobid] = job
    for jobid, slurm_jobid, log in _SUBMITTED.findall(output):
        if int(jobid) in jobs:
            jobs[int(jobid)].slurm_jobid = slurm_jobid
            jobs[int(jobid)].slurm_log = Path(log)
    return jobs


def final_outputs(output: str) -> list[str]:
    """The inputs of the target rule (`all`): the workflow's final products."""
    targets = [job for job in parse_jobs(output).values() if job.rule == "all"]
    assert targets, "the run did not announce the target rule `all`"
    return targets[0].input
