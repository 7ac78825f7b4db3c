"""Helpers shared by test_cluster.py, test_report.py and test_resume.py.

One uninterrupted local run of the tiny default workflow (conftest.tiny_config) per test
session serves as the reference the cluster and resume runs must reproduce; the job
blocks Snakemake prints tell which jobs ran where and with which resources. Nothing here
names a rule or a scenario: everything is read from the run itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

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
    """Working directory of one complete local run of the tiny default workflow (cached)."""
    if "workdir" not in _REFERENCE:
        workdir = tmp_path_factory.mktemp("tiny-reference")
        write_config(workdir, tiny_config())
        proc = run_snakemake(workdir)
        (workdir / "snakemake.out").write_text(proc.stdout + proc.stderr)
        _REFERENCE["workdir"] = workdir
    return _REFERENCE["workdir"]


def result_tables(workdir: Path) -> dict[str, pd.DataFrame]:
    """Every TSV table under results/, keyed by its path relative to the working directory."""
    return {
        str(path.relative_to(workdir)): pd.read_csv(path, sep="\t")
        for path in sorted((workdir / "results").rglob("*.tsv"))
    }


def assert_same_tables(actual: Path, expected: Path) -> None:
    """The two runs wrote the same set of TSV tables with equal contents."""
    got, want = result_tables(actual), result_tables(expected)
    assert want, f"the reference run in {expected} wrote no TSV table"
    assert sorted(got) == sorted(want), "the runs wrote different tables"
    for name, table in want.items():
        pd.testing.assert_frame_equal(
            got[name], table, check_exact=False, rtol=1e-9, atol=1e-12, obj=name
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
