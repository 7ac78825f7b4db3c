"""Summarise the per-rule `benchmark:` files of a run into one table.

Every expensive rule writes `benchmarks/runs/<run>/<scenario>/<rule>/<wildcards>.tsv` (or
`benchmarks/runs/<run>/<scenario>/<rule>.tsv` when it has no wildcards; <run> is the
config's `run`, "default" for the default config): one row per repeat with
the wall time `s`, the peak resident memory `max_rss` (MB), `cpu_time` and more (see
benchmarks/README.md). This script prints one row per job, slowest first, or one row per
rule with `--by-rule`. Next to the measurements it puts the memory (`mem_mb`) and wall time
(`runtime`, minutes) each job declared, read from Snakemake's logs of the run
(.snakemake/log/*.snakemake.log), and flags jobs that used more than they declared.

Usage:
    python benchmarks/summarize.py [RUNS_DIR] [--by-rule] [--tsv] [--out FILE]
                                   [--logs DIR]

RUNS_DIR defaults to benchmarks/runs/default (the default run) and --logs to .snakemake/log (both relative to the
working directory of the run).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import pandas as pd

COLUMNS = ["scenario", "rule", "wildcards", "repeats", "s", "cpu_time", "max_rss_mb"]
_JOB_BLOCK = re.compile(r"^(?:local)?rule (\w+):\n((?:[ \t]+\S.*\n?)*)", re.MULTILINE)


def declared_resources(logs: Path) -> dict[str, dict[str, float]]:
    """Declared mem_mb and runtime of every job with a benchmark, keyed by benchmark path.

    Read from the job blocks Snakemake writes to its logs; later runs win.
    """
    declared: dict[str, dict[str, float]] = {}
    for log in sorted(logs.glob("*.snakemake.log")) if logs.is_dir() else []:
        for _, block in _JOB_BLOCK.findall(log.read_text(errors="replace")):
            fields = dict(
                line.strip().split(": ", 1) for line in block.splitlines() if ": " in line
            )
            if "benchmark" not in fields:
                continue
            resources = dict(
                item.split("=", 1) for item in fields.get("resources", "").split(", ")
                if "=" in item
            )
            declared[fields["benchmark"]] = {
                key: float(resources[key]) for key in ("mem_mb", "runtime") if key in resources
            }
    return declared


def read_benchmarks(runs: Path) -> pd.DataFrame:
    """One row per benchmark file: where it came from, mean time, peak memory."""
    rows = []
    for path in sorted(runs.rglob("*.tsv")):
        parts = path.relative_to(runs).with_suffix("").parts
        if len(parts) < 2:
            continue  # not <scenario>/<rule>[/<wildcards>]
        scenario, rule = parts[0], parts[1]
        wildcards = "/".join(parts[2:])
        frame = pd.read_csv(path, sep="\t", na_values=["NA", "-"])
        if frame.empty:
            continue
        rows.append(
            {
                "path": path,
                "scenario": scenario,
                "rule": rule,
                "wildcards": wildcards,
                "repeats": len(frame),
                "s": frame["s"].mean(),
                "cpu_time": frame["cpu_time"].mean() if "cpu_time" in frame else float("nan"),
                "max_rss_mb": frame["max_rss"].max() if "max_rss" in frame else float("nan"),
            }
        )
    return pd.DataFrame(rows, columns=["path", *COLUMNS])


def add_declared(
    jobs: pd.DataFrame, declared: dict[str, dict[str, float]], workdir: Path
) -> pd.DataFrame:
    """Columns mem_mb and runtime_min as declared, and `over` naming what was exceeded."""
    jobs = jobs.copy()
    by_path = {(workdir / name).resolve(): values for name, values in declared.items()}

    def lookup(path: Path, key: str) -> float:
        return by_path.get(path.resolve(), {}).get(key, float("nan"))

    jobs["mem_mb"] = [lookup(p, "mem_mb") for p in jobs["path"]]
    jobs["runtime_min"] = [lookup(p, "runtime") for p in jobs["path"]]
    jobs["over"] = [
        ",".join(
            name
            for name, exceeded in (
                ("mem", row.max_rss_mb > row.mem_mb),
                ("runtime", row.s > 60 * row.runtime_min),
            )
            if exceeded
        )
        for row in jobs.itertuples()
    ]
    return jobs


def _union(flags: pd.Series) -> str:
    """The distinct names in comma-separated `over` flags."""
    return ",".join(sorted({name for text in flags for name in text.split(",") if name}))


def by_rule(jobs: pd.DataFrame) -> pd.DataFrame:
    """Jobs grouped per rule: count, total and slowest wall time, largest peak memory."""
    grouped = jobs.groupby(["scenario", "rule"], as_index=False).agg(
        jobs=("wildcards", "size"),
        total_s=("s", "sum"),
        max_s=("s", "max"),
        max_rss_mb=("max_rss_mb", "max"),
        mem_mb=("mem_mb", "max"),
        runtime_min=("runtime_min", "max"),
        over=("over", _union),
    )
    return grouped.sort_values("total_s", ascending=False, ignore_index=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="?", default="benchmarks/runs/default", type=Path,
                        help="benchmark files of one run (default: benchmarks/runs/default)")
    parser.add_argument("--by-rule", action="store_true", help="one row per rule")
    parser.add_argument("--tsv", action="store_true", help="print TSV instead of a text table")
    parser.add_argument("--out", type=Path, help="also write the table as TSV to this file")
    parser.add_argument("--logs", type=Path, default=Path(".snakemake/log"),
                        help="Snakemake's logs, for the declared resources "
                        "(default: .snakemake/log)")
    args = parser.parse_args(argv)

    if not args.runs.is_dir():
        parser.error(f"{args.runs} does not exist: run the workflow first")
    jobs = read_benchmarks(args.runs)
    if jobs.empty:
        parser.error(f"no benchmark files under {args.runs}")
    # the logs name benchmark files relative to the run's working directory
    workdir = args.logs.resolve().parent.parent
    jobs = add_declared(jobs, declared_resources(args.logs), workdir)
    if args.by_rule:
        table = by_rule(jobs)
    else:
        table = jobs.drop(columns="path").sort_values("s", ascending=False, ignore_index=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, sep="\t", index=False, float_format="%.2f")
    if args.tsv:
        table.to_csv(sys.stdout, sep="\t", index=False, float_format="%.2f")
    else:
        print(table.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
