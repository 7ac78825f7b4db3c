"""The findings page: verdicts and wording from made-up result tables (advtransfer.findings)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from advtransfer import findings


def corr_table(rho=0.8, lo=0.5, hi=0.95, p=0.002, p_holm=0.01, n=15, groups=5,
               measure="cross_adv_loss", knowledge="probe_accuracy") -> pd.DataFrame:
    rows = [
        {"adversarial_measure": measure, "knowledge_measure": knowledge, "primary": True,
         "duplicate_of": "", "n": n, "n_sources": n, "n_groups": groups, "spearman": rho,
         "spearman_lo": lo, "spearman_hi": hi, "spearman_p": p, "p_holm": p_holm},
        {"adversarial_measure": "tau1", "knowledge_measure": knowledge, "primary": False,
         "duplicate_of": "", "n": n, "n_sources": n, "n_groups": groups, "spearman": -0.9,
         "spearman_lo": -1, "spearman_hi": -0.4, "spearman_p": 0.01, "p_holm": 0.03},
        {"adversarial_measure": "adv_loss_ratio", "knowledge_measure": knowledge,
         "primary": False, "duplicate_of": measure, "n": n, "n_sources": n, "n_groups": groups,
         "spearman": 0.99, "spearman_lo": 0.9, "spearman_hi": 1, "spearman_p": 0.001,
         "p_holm": math.nan},
        {"adversarial_measure": "flip_rate", "knowledge_measure": "kshot_accuracy",
         "primary": False, "duplicate_of": "", "n": n, "n_sources": n, "n_groups": groups,
         "spearman": 0.999, "spearman_lo": 0.9, "spearman_hi": 1, "spearman_p": 0.001,
         "p_holm": 0.01},
    ]
    return pd.DataFrame(rows)


def board_table() -> pd.DataFrame:
    rows = [("leep", "estimator", 0.6, 0.2, 0.9, False), ("log_me", "estimator", 0.7, 0.3, 0.95, False),
            ("gbc", "estimator", 0.95, 0.9, 1.0, True),  # degenerate: never the best
            ("knn", "estimator", 0.99, 0.9, 1.0, False), ("cross_adv_loss", "adversarial", 0.8, 0.5, 0.9, False)]
    out = pd.DataFrame(rows, columns=["measure", "kind", "spearman", "spearman_lo", "spearman_hi",
                                      "degenerate"])
    out["truth"] = "probe_accuracy"
    out.loc[3, "truth"] = "kshot_accuracy"  # knn ranks another truth: not compared
    return out


def test_supported_when_the_interval_excludes_0_and_holm_p_is_small():
    f = findings.correlation_finding("distributions", corr_table(), board_table())
    assert f.verdict == "supported: the interval excludes 0 and the Holm-adjusted p is 0.01."
    lines = dict(f.lines)
    assert "[0.5, 0.95]" in lines["Coefficient"] and "Holm-adjusted p = 0.01" in lines["Coefficient"]
    assert lines["Sources"] == "15 in 5 groups"
    # best by |spearman| among the primary truth's non-duplicate rows: tau1 (-0.9), not the
    # duplicate adv_loss_ratio (0.99) nor flip_rate (another truth)
    assert lines["Best adversarial measure"].startswith("`tau1` (Spearman -0.9")
    assert lines["Best established estimator"].startswith("`log_me` (Spearman 0.7 [0.3, 0.95]")


@pytest.mark.parametrize("n, groups", [(3, 3), (12, 2)])
def test_too_few_sources_or_groups_show_no_interval(n, groups):
    f = findings.correlation_finding("attributes", corr_table(n=n, groups=groups))
    assert f.verdict.startswith(f"inconclusive: n = {n} sources in {groups} groups")
    assert "interval" not in dict(f.lines)["Coefficient"]
    assert "[" not in dict(f.lines)["Coefficient"]


def test_inconclusive_when_the_interval_includes_0():
    f = findings.correlation_finding("attributes", corr_table(rho=0.4, lo=-0.2, hi=0.8, p_holm=0.3))
    assert f.verdict == "inconclusive: the interval [-0.2, 0.8] includes 0 (Holm-adjusted p = 0.3)."


def test_inconclusive_when_the_holm_p_is_too_large():
    f = findings.correlation_finding("distributions", corr_table(p_holm=0.08))
    assert f.verdict == ("inconclusive: the interval excludes 0 but the Holm-adjusted p is "
                         "0.08 (> 0.05).")


def test_contradicted_by_a_significant_coefficient_of_the_wrong_sign():
    f = findings.correlation_finding("distributions", corr_table(rho=-0.8, lo=-0.95, hi=-0.5))
    assert f.verdict.startswith("contradicted: the interval excludes 0 with the opposite sign")
    # a measure where lower means more transferable turns the expected sign around
    g = findings.correlation_finding("distributions", corr_table(rho=-0.8, lo=-0.95, hi=-0.5),
                                     signs={"cross_adv_loss": -1, "probe_accuracy": 1})
    assert g.verdict.startswith("supported")
    assert "a lower `probe_accuracy`" in dict(g.lines)["Primary hypothesis"]


def test_no_primary_row_gives_no_verdict_and_the_config_pair_is_a_fallback():
    table = corr_table().drop(columns="primary")
    assert findings.correlation_finding("nlp", table).verdict.startswith("no verdict")
    f = findings.correlation_finding("nlp", table, primary=("cross_adv_loss", "probe_accuracy"))
    assert f.verdict.startswith("supported")


def test_tasks_verdicts_against_the_random_trees():
    def entropy(h_small, h_large, n_tasks=10):
        rows = []
        for eps, h in ((0.05, h_small), (0.1, h_large)):
            rows.append(("adversarial", eps, "knowledge", 3, h, math.nan, 0.3))
            rows.append(("random", eps, "knowledge", 3, 0.8, 0.1, 0.0))
        rows.append(("knowledge", math.nan, "a_priori", n_tasks, 0.0, math.nan, 0.0))
        return pd.DataFrame(rows, columns=["tree", "eps", "reference", "k", "entropy",
                                           "entropy_sd", "ari"])
    assert findings.tasks_finding(entropy(0.5, 0.4), k=3).verdict.startswith("supported")
    assert findings.tasks_finding(entropy(0.7, 0.75), k=3).verdict.startswith("inconclusive: at no")
    mixed = findings.tasks_finding(entropy(0.7, 0.4), k=3).verdict
    assert mixed == "mixed: below chance by 2 sds at eps = 0.1, not at eps = 0.05."
    small = findings.tasks_finding(entropy(0.5, 0.4, n_tasks=3), k=3)
    assert small.verdict.startswith("inconclusive: n = 3 tasks")
    assert "entropy 0.5 nats vs random 0.8 ± 0.1 nats" in dict(small.lines)["eps = 0.05"]


def sweep(independent_loss=0.01, n_t=5):
    rows = []
    for s in ("derived", "independent"):
        for d in range(2):
            for i in range(n_t):
                t = i / max(n_t - 1, 1)
                tau1 = 1 - 0.8 * t if s == "derived" else 0.1
                loss = 0.01 + t if s == "derived" else independent_loss + t
                rows.append({"set": s, "direction": d, "t": t, "tau1": tau1,
                             "transferred_loss": loss})
    return pd.DataFrame(rows)


def test_synthetic_verdicts():
    f = findings.synthetic_finding(sweep())
    assert f.verdict.startswith("consistent with the theory in the derived set (Spearman -1)")
    assert "the loss follows t, not tau1" in f.verdict
    g = findings.synthetic_finding(sweep(independent_loss=0.5))
    assert g.verdict == "consistent with the theory in the derived set (Spearman -1)."
    assert findings.synthetic_finding(sweep(n_t=3)).verdict.startswith(
        "inconclusive: n = 3 values of t")


def test_renderings_carry_every_line_and_escape_the_report_templating():
    f = findings.correlation_finding("distributions", corr_table(), board_table())
    md = findings.render_markdown([f], head="From the tables.")
    assert md.startswith("# Findings\n\nFrom the tables.\n\n## distributions")
    assert "- **Verdict:** supported" in md
    f.verdict += " {{ x }}"
    rst = findings.render_rst([f])
    assert "``cross_adv_loss``" in rst and "{{" not in rst
    heading = rst.splitlines()[3]
    assert rst.splitlines()[4] == "-" * len(heading)
