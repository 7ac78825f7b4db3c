"""The data dictionary (schemas/outputs.yaml), the table pages and the findings page.

The pure part (advtransfer.datadict on made-up tables) runs always; the workflow part
checks the dictionary against every table the shared tiny run writes (every column
documented, no documented column missing) and reads the run-wide pages it wrote.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest
from conftest import REPO

from advtransfer import datadict

DICTIONARY = REPO / "schemas" / "outputs.yaml"

TOY = {
    "columns": {
        "model": {"meaning": "source", "unit": "n.a.", "direction": "n.a."},
        "cross_adv_loss": {"meaning": "cross loss", "unit": "nats",
                           "direction": "higher = more transferable"},
        "probe_loss": {"meaning": "probe loss", "unit": "nats",
                       "direction": "lower = more transferable"},
        "verif_{benchmark}": {"meaning": "accuracy", "unit": "fraction",
                              "direction": "higher = more transferable"},
        "verif_{benchmark}_std": {"meaning": "sd", "unit": "fraction", "direction": "n.a."},
    },
    "tables": {
        "results/*/transfer.tsv": {"description": "one row per source",
                                   "columns": ["model", "cross_adv_loss", "verif_{benchmark}",
                                               "verif_{benchmark}_std"]},
        "results/*/other.tsv": {"description": "x", "columns": [
            {"name": "model", "meaning": "overridden"}, "probe_loss"]},
    },
}


def test_problems_name_undocumented_and_stale_columns():
    tables = {"results/a/transfer.tsv": ["model", "cross_adv_loss", "verif_digits",
                                         "verif_digits_shift_std", "new_column"],
              "results/a/unknown.tsv": ["x"]}
    problems = datadict.table_problems(TOY, tables)
    assert "results/a/transfer.tsv: column 'new_column' is not documented " \
           "(results/*/transfer.tsv)" in problems
    assert "results/a/unknown.tsv: no table entry in the data dictionary" in problems
    assert len(problems) == 2
    stale = datadict.table_problems(TOY, {"results/b/other.tsv": ["model"]})
    assert stale == ["results/*/other.tsv: documented column 'probe_loss' is in no such table"]


def test_specs_prefer_the_longer_pattern_and_table_overrides():
    entry = TOY["tables"]["results/*/transfer.tsv"]
    assert datadict.column_spec(TOY, entry, "verif_digits_shift_std")["name"] == "verif_{benchmark}_std"
    assert datadict.column_spec(TOY, entry, "verif_digits_shift")["name"] == "verif_{benchmark}"
    other = TOY["tables"]["results/*/other.tsv"]
    assert datadict.column_spec(TOY, other, "model")["meaning"] == "overridden"
    assert datadict.signs(TOY, ["cross_adv_loss", "probe_loss", "model"]) == {
        "cross_adv_loss": 1, "probe_loss": -1}


def test_table_page_has_units_and_four_significant_digits():
    frame = pd.DataFrame({"model": ["a_s0"], "cross_adv_loss": [1.234567], "verif_digits": [0.5]})
    page = datadict.table_html(frame, "results/a/transfer.tsv", TOY)
    assert "cross_adv_loss<br><small>(nats)</small>" in page
    assert ">1.235<" in page and "1.2345" not in page
    assert 'title="cross loss; higher = more transferable"' in page
    assert datadict.format_value(12345.678) == "1.235e+04" and datadict.format_value(3.0) == "3"


def test_the_shipped_dictionary_loads_with_every_field():
    d = datadict.load(DICTIONARY)
    for name, spec in d["columns"].items():
        assert spec["direction"] in datadict.DIRECTIONS, name
    assert "probe_neg_loss" not in d["columns"] and "adv_transferability" not in d["columns"]
    page = datadict.dictionary_html(d)
    assert page.count("<h2>") == len(d["tables"])


@pytest.mark.workflow
def test_dictionary_documents_every_table_of_the_tiny_run(tiny_run):
    d = datadict.load(DICTIONARY)
    tables = {str(p.relative_to(tiny_run)): list(pd.read_csv(p, sep="\t", nrows=0).columns)
              for p in sorted((tiny_run / "results").rglob("*.tsv"))}
    assert len(tables) > 20
    problems = datadict.table_problems(d, tables)
    assert not problems, "schemas/outputs.yaml is out of date:\n" + "\n".join(problems)
    for path, columns in tables.items():  # one name per quantity in every table
        assert "probe_neg_loss" not in columns and "adv_transferability" not in columns, path


@pytest.mark.workflow
def test_run_wide_pages_of_the_tiny_run(tiny_run):
    results = tiny_run / "results" / "default"
    # every final top-level table has a readable HTML page beside it, units in the headers
    # (estimators.tsv is the leaderboard's intermediate: source_scores.tsv holds its scores)
    for tsv in sorted(results.glob("*/*.tsv")):
        if tsv.name == "estimators.tsv":
            continue
        page = tsv.with_suffix(".html")
        assert page.is_file(), page
        text = page.read_text()
        assert text.count("<tr>") == len(pd.read_csv(tsv, sep="\t")) + 1, page
    transfer = (results / "distributions/transfer.html").read_text()
    assert "cross_adv_loss<br><small>(nats)</small>" in transfer
    assert "probe_accuracy<br><small>(fraction)</small>" in transfer
    assert (results / "data_dictionary.html").stat().st_size > 10_000
    # the findings: one section per scenario with a sentence of verdict
    findings = (results / "findings.md").read_text()
    for scenario in ("synthetic", "distributions", "attributes", "tasks"):
        assert f"## {scenario}:" in findings, scenario
    verdicts = re.findall(r"^- \*\*Verdict:\*\* (.+)$", findings, flags=re.MULTILINE)
    assert len(verdicts) == 4, findings
    # the tiny run has 1-3 sources per group and three tasks: every verdict says so
    assert "inconclusive: n = 3 tasks" in findings
    assert re.search(r"distributions.*?Verdict:\*\* inconclusive: n = \d+ sources in \d+ groups",
                     findings, flags=re.DOTALL)
    front = (results / "report_front.rst").read_text()
    assert front.startswith((REPO / "report/workflow.rst").read_text().strip()[:40])
    assert "Findings\n========" in front and (results / "findings.html").is_file()
