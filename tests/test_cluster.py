"""The tiny default workflow on a real single-node SLURM through profiles/slurm.

tests/cluster/slurm-local.sh starts slurmctld + slurmd (+ munged) with two fake GPUs
(gres gpu:fake:2) and partitions `cpu` and `gpu`, as profiles/slurm/partitions.yaml
expects. The test checks that every job Snakemake did not run locally ran as a SLURM job
(its SLURM id in Snakemake's log, its SLURM log file, COMPLETED in `scontrol`), that the
sbatch request carried the rule's memory, runtime and GPU count, that GPU-tagged jobs ran
in the GPU partition with CUDA_VISIBLE_DEVICES set by SLURM (recorded by the cluster's
TaskProlog) and CPU jobs without, and that the tables equal those of a local run (the
shared reference run, which runs beside the SLURM run to use the CPU it leaves idle). The
SLURM run repeats two of the tiny run's scenarios (SLURM_SCENARIOS), whose rules cover
every kind of job: CPU and GPU-tagged, per-source and summary, scenario and leaderboard.

Runs where root can install the Debian SLURM packages; skipped otherwise.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from cluster.workflow_runs import (
    assert_same_tables,
    parse_jobs,
    reference_run,
    snakemake_command,
)
from conftest import REPO, tiny_config, write_config

pytestmark = [pytest.mark.cluster, pytest.mark.workflow]

SCRIPT = REPO / "tests" / "cluster" / "slurm-local.sh"
PROFILE = REPO / "profiles" / "slurm"
INSTALL_TIMEOUT_S = 300
RUN_TIMEOUT_S = 1500


def _slurm_installed() -> bool:
    return all(shutil.which(tool) for tool in ("slurmctld", "slurmd", "sbatch", "munged"))


@pytest.fixture(scope="module")
def slurm(tmp_path_factory, request):
    """A running single-node SLURM; its state directory. Stops what it started.

    The stop is registered before the start, so that a start that fails or times out
    half-way (daemons up, node not idle) is cleaned up too; `slurm-local.sh stop` cancels
    every job, kills what is left of them (slurmstepd and job processes) and stops the
    daemons it started.
    """
    if os.geteuid() != 0:
        pytest.skip("starting SLURM daemons needs root")
    if not _slurm_installed():
        if not shutil.which("apt-get"):
            pytest.skip("SLURM is not installed and there is no apt-get to install it")
        try:
            proc = subprocess.run(
                ["bash", str(SCRIPT), "install"], check=False, capture_output=True, text=True,
                timeout=INSTALL_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            pytest.skip(f"apt-get install of SLURM took over {INSTALL_TIMEOUT_S} s")
        if proc.returncode != 0 or not _slurm_installed():
            pytest.skip(f"Debian SLURM packages not installable: {proc.stderr.strip()[-300:]}")
    state = tmp_path_factory.mktemp("slurm-local")
    env = {**os.environ, "SLURM_LOCAL_DIR": str(state)}

    def stop():
        subprocess.run(["bash", str(SCRIPT), "stop"], env=env, timeout=180, check=False)

    request.addfinalizer(stop)
    try:
        proc = subprocess.run(
            ["bash", str(SCRIPT), "start"], check=False, capture_output=True, text=True,
            env=env, timeout=120,
        )
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"slurm-local.sh start took over {err.timeout} s:\n{err.stdout}\n{err.stderr}")
    if proc.returncode == 3:
        pytest.skip(f"machine has a SLURM of its own: {proc.stderr.strip()}")
    assert proc.returncode == 0, f"slurm-local.sh start failed:\n{proc.stdout}\n{proc.stderr}"
    return state


@pytest.fixture
def slurm_jobs(slurm):
    """The running SLURM; afterwards, pass or fail, none of the test's jobs is left.

    `scancel` asks slurmd to end every job; `slurm-local.sh reap` then kills whatever of
    them still runs (slurmstepd and the job processes), so a failed or timed-out run
    leaves nothing behind even before the module's SLURM is stopped.
    """
    yield slurm
    env = {**os.environ, "SLURM_LOCAL_DIR": str(slurm)}
    subprocess.run(["bash", str(SCRIPT), "reap"], env=env, timeout=120, check=False)


def stop_snakemake(proc: subprocess.Popen) -> None:
    """End a Snakemake started in its own session, and the local jobs it started."""
    if proc.poll() is not None:
        return
    proc.terminate()  # Snakemake cancels its SLURM jobs
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def scontrol_job(slurm_jobid: str) -> dict[str, str]:
    """`scontrol show job -d` as a dict (finished jobs stay visible for MinJobAge)."""
    out = subprocess.run(
        ["scontrol", "show", "job", "-d", slurm_jobid], capture_output=True, text=True, check=True
    ).stdout
    fields = {}
    for token in out.split():
        key, sep, value = token.partition("=")
        if sep and key not in fields:
            fields[key] = value
    return fields


def megabytes(value: str) -> int:
    """SLURM memory ('1000M', '2G') in MB."""
    scale = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024**2}
    return round(float(value[:-1]) * scale[value[-1]]) if value[-1] in scale else int(value)


def slurm_minutes(minutes: int) -> str:
    """A wall time as scontrol prints it: [D-]HH:MM:SS."""
    days, rest = divmod(minutes, 24 * 60)
    text = f"{rest // 60:02d}:{rest % 60:02d}:00"
    return f"{days}-{text}" if days else text


def job_environment(state: Path, slurm_jobid: str) -> dict[str, dict[str, str]]:
    """Per job step, the GPU variables SLURM set (written by the cluster's TaskProlog)."""
    steps = {}
    for path in sorted((state / "jobenv").glob(f"{slurm_jobid}.*")):
        pairs = (line.partition("=") for line in path.read_text().splitlines())
        steps[path.name.split(".", 1)[1]] = {k: v for k, sep, v in pairs if sep}
    return steps


#: Scenarios of the tiny default run that the SLURM run repeats: the synthetic one (CPU
#: jobs only) and the distributions one (GPU-tagged training and attacks, CPU probes and
#: summaries, its leaderboard); each job of the others is of a rule these already send.
SLURM_SCENARIOS = ("synthetic", "distributions")


def slurm_config() -> dict:
    """``tiny_config()`` restricted to :data:`SLURM_SCENARIOS` (same settings otherwise)."""
    cfg = tiny_config()
    cfg["scenarios"] = list(SLURM_SCENARIOS)
    cfg["leaderboard"]["scenarios"] = [s for s in cfg["leaderboard"]["scenarios"]
                                       if s in SLURM_SCENARIOS]
    return cfg


def test_tiny_workflow_on_slurm(slurm_jobs, tmp_path, tmp_path_factory, monkeypatch):
    slurm = slurm_jobs
    # sbatch --export=ALL would hand a GPU setting of this shell to every job
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    write_config(tmp_path, slurm_config())
    command = snakemake_command(
        tmp_path,
        "--workflow-profile", str(PROFILE),
        # a test cluster answers at once: first poll after 3 s instead of 40 s (the plugin
        # then waits 10 s longer per poll that finds nothing finished: 3, 16, 39, ... s)
        "--slurm-init-seconds-before-status-checks", "3",
        "--slurm-keep-successful-logs",
        # the test node has this machine's CPUs; locally --cores caps threads the same way
        "--max-threads", str(os.cpu_count()),
    )

    # The SLURM run waits between status polls; the local reference run fills those gaps.
    started = time.monotonic()
    out_path = tmp_path / "snakemake.out"
    with open(out_path, "w") as out:
        # its own session: on a timeout, it and its local jobs can be killed as a group
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONHASHSEED": "0"}, start_new_session=True,
        )
        try:
            reference = reference_run(tmp_path_factory)
            proc.wait(timeout=RUN_TIMEOUT_S)
        finally:
            stop_snakemake(proc)
    wall = time.monotonic() - started
    output = out_path.read_text()
    assert proc.returncode == 0, f"SLURM run failed ({proc.returncode}):\n{output[-5000:]}"

    jobs = parse_jobs(output)
    remote = [job for job in jobs.values() if not job.local]
    assert remote, f"no job was sent to SLURM:\n{output[-3000:]}"
    assert any(job.local for job in jobs.values()), "the target rule `all` should run locally"
    gpu_jobs = [job for job in remote if job.gpus]
    assert gpu_jobs, "no job of the default workflow declares `resources: gpu`"

    for job in jobs.values():
        name = f"job {job.jobid} ({job.rule} {job.wildcards})"
        if job.local:
            assert job.slurm_jobid is None, f"{name} is a local rule but was submitted"
            continue
        assert job.slurm_jobid, f"{name} has no SLURM job id in Snakemake's log"
        assert job.slurm_log is not None and job.slurm_log.is_file(), f"{name}: no SLURM log"
        assert job.slurm_log.is_relative_to(tmp_path / ".snakemake" / "slurm_logs")

        info = scontrol_job(job.slurm_jobid)
        assert info["JobState"] == "COMPLETED" and info["ExitCode"] == "0:0", (name, info)
        assert info["Comment"].startswith(f"rule_{job.rule}"), (name, info["Comment"])
        # the sbatch request carries the rule's memory and wall time
        assert megabytes(info["MinMemoryNode"]) == int(job.resources["mem_mb"]), (name, info)
        assert info["TimeLimit"] == slurm_minutes(int(job.resources["runtime"])), (name, info)

        steps = job_environment(slurm, job.slurm_jobid)
        assert "0" in steps, f"{name}: the rule did not run in a job step ({steps})"
        step = steps["0"]  # the srun step the jobstep executor runs the rule in
        if job.gpus:
            assert info["Partition"] == "gpu", (name, info["Partition"])
            assert info.get("TresPerJob") == f"gres:gpu:{job.gpus}", (name, info)
            devices = step.get("CUDA_VISIBLE_DEVICES", "")
            assert len(devices.split(",")) == job.gpus and devices, (name, step)
            assert step.get("SLURM_STEP_GPUS") == devices, (name, step)
        else:
            assert info["Partition"] == "cpu", (name, info["Partition"])
            assert "gpu" not in info.get("TresPerJob", ""), (name, info)
            assert "CUDA_VISIBLE_DEVICES" not in step, (name, step)

    assert_same_tables(tmp_path, reference, subset=True)
    written = {p.relative_to(tmp_path / "results").parts[1]
               for p in (tmp_path / "results").rglob("*.tsv")}
    assert written == set(SLURM_SCENARIOS), written
    print(
        f"SLURM run (beside the local reference run): {wall:.0f} s wall, {len(remote)} SLURM jobs "
        f"({len(gpu_jobs)} with a GPU), {len(jobs) - len(remote)} local"
    )
