"""Where nothing is random, two clean runs write the same bytes.

Every file under ``results/`` of two runs of the tiny synthetic scenario, in two fresh
working directories, is compared byte for byte. The only allowed differences are the
documented timing columns of TSV tables (:data:`TIMING_COLUMN_SUFFIXES`): there the other
columns are compared exactly.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, run_snakemake, write_config

#: Columns that hold wall-clock durations (seconds) and so differ from run to run; the
#: leaderboard's ``load_s`` / ``extract_s`` / ``cost_s`` / ``compute_s``, the byo
#: checker's ``forward_backward_s`` and the like. Every other column is reproducible.
TIMING_COLUMN_SUFFIXES = ("_s", "_s_est")


def _is_timing(column: str) -> bool:
    return column.endswith(TIMING_COLUMN_SUFFIXES)


def _differences(first: Path, second: Path) -> list[str]:
    """Relative paths (or ``path: column``) that differ between two results/ trees."""
    names = sorted({p.relative_to(first) for p in first.rglob("*") if p.is_file()}
                   | {p.relative_to(second) for p in second.rglob("*") if p.is_file()})
    diffs = []
    for name in names:
        a, b = first / name, second / name
        if not (a.is_file() and b.is_file()):
            diffs.append(f"{name}: only in one run")
        elif a.read_bytes() == b.read_bytes():
            continue
        elif name.suffix == ".tsv":
            ta, tb = pd.read_csv(a, sep="\t", dtype=str), pd.read_csv(b, sep="\t", dtype=str)
            keep = [c for c in ta.columns if not _is_timing(c)]
            if list(ta.columns) != list(tb.columns) or not ta[keep].equals(tb[keep]):
                diffs.append(f"{name}: columns {[c for c in keep if not ta[c].equals(tb[c])]}"
                             if list(ta.columns) == list(tb.columns) else f"{name}: header")
        else:
            diffs.append(str(name))
    return diffs


@pytest.mark.workflow
def test_two_clean_synthetic_runs_are_byte_identical(tmp_path, tiny_synthetic_config):
    runs = [tmp_path / "first", tmp_path / "second"]
    for workdir in runs:
        write_config(workdir, tiny_synthetic_config)
        run_snakemake(workdir)
    results = [w / "results" for w in runs]
    files = sorted(p.relative_to(results[0]) for p in results[0].rglob("*") if p.is_file())
    suffixes = {p.suffix for p in files}
    assert {".tsv", ".svg", ".png", ".safetensors"} <= suffixes, suffixes
    assert _differences(*results) == []


def test_difference_finder_ignores_only_timing_columns(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    for root, (value, secs) in ((first, ("1", "0.5")), (second, ("1", "0.7"))):
        root.mkdir()
        (root / "t.tsv").write_text(f"x\tcost_s\n{value}\t{secs}\n")
        (root / "same.svg").write_text("<svg/>")
    assert _differences(first, second) == []
    (second / "t.tsv").write_text("x\tcost_s\n2\t0.7\n")
    (second / "same.svg").write_text("<svg />")
    (second / "extra.png").write_bytes(b"")
    assert _differences(first, second) == ["extra.png: only in one run", "same.svg",
                                           "t.tsv: columns ['x']"]


_FIGURE = """
import sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from advtransfer import io
fig, ax = plt.subplots()
ax.plot([0, 1], [1, 0], label="a")
ax.legend()
io.save_figure(fig, sys.argv[1] + ".svg", "svg", bbox_inches="tight")
io.save_figure(fig, sys.argv[1] + ".png", "png", dpi=40)
"""


def test_save_figure_writes_no_date_and_fixed_ids(tmp_path):
    """Two processes, different SOURCE_DATE_EPOCH and no svg.hashsalt set: same bytes."""
    for name, epoch in (("a", "0"), ("b", "1700000000")):
        env = {"SOURCE_DATE_EPOCH": epoch, "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
               "MPLCONFIGDIR": str(tmp_path / "mpl")}
        subprocess.run([sys.executable, "-c", _FIGURE, str(tmp_path / name)], check=True,
                       env=env, cwd=REPO, timeout=120)
    svg = (tmp_path / "a.svg").read_text()
    assert "<dc:date>" not in svg
    assert svg == (tmp_path / "b.svg").read_text()
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_scripts_save_figures_through_io_save_figure():
    """Every figure write goes through io.save_figure (no date, fixed ids, atomic)."""
    direct = [f"{p.relative_to(REPO)}:{i}" for p in sorted((REPO / "scripts").rglob("*.py"))
              for i, line in enumerate(p.read_text().splitlines(), 1) if ".savefig(" in line]
    direct += [f"{p.relative_to(REPO)}:{i}"
               for p in sorted((REPO / "src" / "advtransfer").rglob("*.py"))
               for i, line in enumerate(p.read_text().splitlines(), 1)
               if ".savefig(" in line and p.name != "io.py"]
    assert direct == [], "use advtransfer.io.save_figure instead of savefig: " + str(direct)
