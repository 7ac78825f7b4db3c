"""The findings page: what each scenario's result tables say, in sentences.

Every number and every verdict on the page is computed here from the result tables
(``correlation.tsv``, ``leaderboard.tsv``, ``sweep.tsv``, ``entropy.tsv``); nothing about the
numbers is written by hand. Pure functions: data frames in, text out; no file access.

Verdicts of a correlation scenario (distributions, attributes, nlp), from the row of the
declared primary hypothesis (``primary`` true in ``correlation.tsv``):

* fewer than :data:`MIN_SOURCES` sources or :data:`MIN_GROUPS` groups: no interval is
  shown, "inconclusive: n = ..." (a group bootstrap over so few groups means nothing);
* the group-aware interval includes 0: "inconclusive: the interval includes 0";
* it excludes 0, the coefficient has the expected sign and the Holm-adjusted p is at most
  ``alpha``: "supported"; with the other sign: "contradicted";
* it excludes 0 but the Holm-adjusted p is above ``alpha``: "inconclusive".

The tasks scenario compares the adversarial task tree with the knowledge tree at the
reported number of clusters against a chance level (tasks shuffled among clusters of the
same sizes); the synthetic scenario reports how tau1 and the refit loss move together along
the sweep, and whether the independent set separates them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = [
    "ALPHA",
    "MIN_GROUPS",
    "MIN_SOURCES",
    "Finding",
    "correlation_finding",
    "render_markdown",
    "render_rst",
    "synthetic_finding",
    "tasks_finding",
    "zoo_finding",
]

#: Below this many sources no interval is shown and the verdict is inconclusive.
MIN_SOURCES = 5
#: Below this many groups (source data sets / attributes) likewise.
MIN_GROUPS = 3
#: Family-wise error rate of the Holm-adjusted p-values.
ALPHA = 0.05
#: Chance level: the adversarial tree beats the random trees by this many of their sds.
CHANCE_SDS = 2.0
#: Fewest tasks whose trees are compared at all (with fewer every tree is nearly the same).
MIN_TASKS = 5

_TITLES = {
    "synthetic": "Synthetic RBF regression (paper §4.1, Figure 2)",
    "distributions": "Transfer among data distributions (paper §4.2, Figure 3)",
    "attributes": "Transfer among attributes (paper §4.3, Table 1)",
    "tasks": "Transfer among tasks (paper §4.4, Figures 4-5)",
    "nlp": "Transfer among text models (paper §4.2, NLP)",
    "zoo": "Model zoo: three families, three source data sets, three targets (addition)",
}


@dataclass
class Finding:
    """One scenario's findings: labelled lines and a one-sentence verdict.

    Text uses single backquotes around column names (Markdown code); :func:`render_rst`
    turns them into reStructuredText literals.
    """

    scenario: str
    title: str
    lines: list[tuple[str, str]] = field(default_factory=list)
    verdict: str = ""


def _num(value: float, digits: int = 3) -> str:
    """``value`` with ``digits`` significant digits ("n/a" for NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    value = float(value)
    if value == 0:
        return "0"
    text = f"{value:.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return f"{mantissa} × 10^{int(exponent)}"
    return text


def _p(value: float) -> str:
    """A p-value with its relation: "= 0.012", "< 0.001" below 0.001, "n/a" when missing."""
    if value is None or not np.isfinite(value):
        return "n/a"
    return "< 0.001" if value < 0.001 else f"= {_num(value, 2)}"


def _float(row: Mapping, key: str) -> float:
    try:
        value = float(row.get(key, math.nan))
    except (TypeError, ValueError):
        return math.nan
    return value


def _int(row: Mapping, key: str, default: int = 0) -> int:
    value = _float(row, key)
    return default if math.isnan(value) else int(value)


def _flag(series: pd.Series) -> pd.Series:
    """A boolean column read from a TSV (True / "True" / 1)."""
    return series.map(lambda v: str(v).strip().lower() in ("true", "1", "1.0"))


def _primary_row(correlation: pd.DataFrame,
                 primary: Sequence[str] | None) -> pd.Series | None:
    if "primary" in correlation:
        rows = correlation[_flag(correlation["primary"])]
        if len(rows):
            return rows.iloc[0]
    if primary:
        rows = correlation[(correlation["adversarial_measure"] == primary[0])
                           & (correlation["knowledge_measure"] == primary[1])]
        if len(rows):
            return rows.iloc[0]
    return None


def _correlation_verdict(rho: float, lo: float, hi: float, p_holm: float, n: int,
                         groups: int, *, sign: int, alpha: float) -> tuple[str, bool]:
    """(verdict sentence, whether the interval may be shown)."""
    if n < MIN_SOURCES or groups < MIN_GROUPS:
        return (f"inconclusive: n = {n} sources in {groups} groups (an interval needs at "
                f"least {MIN_SOURCES} sources in {MIN_GROUPS} groups).", False)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "inconclusive: the group bootstrap gave no interval.", False
    if lo <= 0 <= hi:
        return (f"inconclusive: the interval [{_num(lo)}, {_num(hi)}] includes 0 "
                f"(Holm-adjusted p {_p(p_holm)}).", True)
    expected = (rho > 0) == (sign > 0)
    if not np.isfinite(p_holm):
        return ("inconclusive: the interval excludes 0 but the table has no Holm-adjusted "
                "p-value.", True)
    if p_holm > alpha:
        return (f"inconclusive: the interval excludes 0 but the Holm-adjusted p is "
                f"{_num(p_holm, 2)} (> {_num(alpha)}).", True)
    if expected:
        return (f"supported: the interval excludes 0 and the Holm-adjusted p "
                f"{'is ' + _num(p_holm, 2) if p_holm >= 0.001 else 'is below 0.001'}.", True)
    return (f"contradicted: the interval excludes 0 with the opposite sign "
            f"(Holm-adjusted p {_p(p_holm)}).", True)


def correlation_finding(
    scenario: str,
    correlation: pd.DataFrame,
    leaderboard: pd.DataFrame | None = None,
    *,
    primary: Sequence[str] | None = None,
    method: str = "spearman",
    signs: Mapping[str, int] | None = None,
    alpha: float = ALPHA,
    title: str | None = None,
) -> Finding:
    """Findings of a scenario with a ``correlation.tsv`` (and its ``leaderboard.tsv``).

    Args:
        scenario: the scenario's name.
        correlation: rows of :func:`advtransfer.core.stats.correlation_table`.
        leaderboard: the scenario's leaderboard rows (``truth``, ``measure``, ``kind``,
            ``<method>``, ``<method>_lo/_hi``), or None.
        primary: the declared ``(adversarial, knowledge)`` pair, used where the table has
            no ``primary`` column.
        method: the coefficient reported.
        signs: ``{column: +1 or -1}``, +1 where higher means more transferable (the data
            dictionary's direction); the expected sign of the coefficient is their product.
        alpha: the family-wise error rate of the Holm adjustment.
        title: section title (default: the paper section of the scenario).
    """
    finding = Finding(scenario, title or _TITLES.get(scenario, scenario))
    signs = dict(signs or {})
    row = _primary_row(correlation, primary)
    if row is None:
        finding.verdict = ("no verdict: no primary hypothesis is declared "
                           f"(`{scenario}.correlation.primary` in the config).")
        return finding
    adv, know = str(row["adversarial_measure"]), str(row["knowledge_measure"])
    sign = signs.get(adv, 1) * signs.get(know, 1)
    rho = _float(row, method)
    lo, hi = _float(row, f"{method}_lo"), _float(row, f"{method}_hi")
    p_holm, p_raw = _float(row, "p_holm"), _float(row, f"{method}_p")
    n = _int(row, "n_sources", _int(row, "n"))
    groups = _int(row, "n_groups", n)
    verdict, show = _correlation_verdict(rho, lo, hi, p_holm, n, groups, sign=sign, alpha=alpha)
    direction = "higher" if sign > 0 else "lower"
    finding.lines.append(("Primary hypothesis",
                          f"a higher `{adv}` goes with a {direction} `{know}` across sources"))
    coefficient = f"{method.capitalize()} {_num(rho)}"
    if show:
        coefficient += f", 95 % group-bootstrap interval [{_num(lo)}, {_num(hi)}]"
    coefficient += f"; permutation p {_p(p_raw)}, Holm-adjusted p {_p(p_holm)}"
    finding.lines.append(("Coefficient", coefficient))
    finding.lines.append(("Sources", f"{n} in {groups} groups"))
    same = correlation[correlation["knowledge_measure"] == know].copy()
    if "duplicate_of" in same:
        same = same[same["duplicate_of"].fillna("").astype(str).isin(["", "nan"])]
    same["_abs"] = pd.to_numeric(same[method], errors="coerce").abs()
    same = same.dropna(subset=["_abs"])
    if len(same):
        best = same.loc[same["_abs"].idxmax()]
        finding.lines.append(("Best adversarial measure",
                              f"`{best['adversarial_measure']}` ({method.capitalize()} "
                              f"{_num(_float(best, method))} with `{know}`)"))
    if leaderboard is not None and len(leaderboard):
        board = leaderboard[(leaderboard["kind"] == "estimator")
                            & (leaderboard["truth"] == know)].copy()
        if "degenerate" in board:
            board = board[~_flag(board["degenerate"])]
        board["_v"] = pd.to_numeric(board[method], errors="coerce")
        board = board.dropna(subset=["_v"])
        if len(board):
            top = board.loc[board["_v"].idxmax()]
            text = f"`{top['measure']}` ({method.capitalize()} {_num(top['_v'])}"
            if show and np.isfinite(_float(top, f"{method}_lo")):
                text += f" [{_num(_float(top, f'{method}_lo'))}, {_num(_float(top, f'{method}_hi'))}]"
            text += f" with `{know}`)"
            finding.lines.append(("Best established estimator", text))
    finding.verdict = verdict
    return finding


def synthetic_finding(sweep: pd.DataFrame, *, title: str | None = None) -> Finding:
    """Findings of the synthetic sweep (``sweep.tsv``): tau1 against the refit loss.

    Along the derived set (W_S = W_T + tV) both tau1 and the refit loss are driven by t;
    the independent set (another seed, same t) tells whether the loss follows tau1 or t.
    """
    finding = Finding("synthetic", title or _TITLES["synthetic"])
    need = {"set", "t", "tau1", "transferred_loss"}
    if not need <= set(sweep.columns) or "derived" not in set(sweep["set"]):
        finding.verdict = "no verdict: sweep.tsv has no derived set."
        return finding
    means = sweep.groupby(["set", "t"])[["tau1", "transferred_loss"]].mean()
    der = means.loc["derived"]
    n_t = len(der)
    n_dir = int(sweep.loc[sweep["set"] == "derived", "direction"].nunique()) \
        if "direction" in sweep else 1
    rho = float(pd.Series(der["tau1"]).corr(pd.Series(der["transferred_loss"]),
                                            method="spearman")) if n_t >= 2 else math.nan
    finding.lines.append(("Hypothesis", "a higher `tau1` goes with a lower refit loss "
                          "(`transferred_loss`) along the sweep"))
    finding.lines.append(("Derived set", f"Spearman {_num(rho)} between the mean `tau1` and "
                          f"the mean `transferred_loss` over {n_t} values of t "
                          f"({n_dir} directions)"))
    separated = None
    if "independent" in set(sweep["set"]):
        ind = means.loc["independent"]
        common = der.index.intersection(ind.index)
        if len(common):
            t0 = common[0]
            tau_gap = float(der.loc[t0, "tau1"] - ind.loc[t0, "tau1"])
            l_der, l_ind = float(der.loc[t0, "transferred_loss"]), float(ind.loc[t0, "transferred_loss"])
            rel = abs(l_ind - l_der) / max(abs(l_der), abs(l_ind), 1e-300)
            finding.lines.append((
                "Independent set",
                f"at t = {_num(float(t0))}, `tau1` {_num(float(ind.loc[t0, 'tau1']))} vs "
                f"{_num(float(der.loc[t0, 'tau1']))} in the derived set, refit loss "
                f"{_num(l_ind)} vs {_num(l_der)}"))
            separated = tau_gap > 0.2 and rel <= 0.1
    if n_t < MIN_SOURCES:
        finding.verdict = f"inconclusive: n = {n_t} values of t (at least {MIN_SOURCES} are needed)."
    elif not np.isfinite(rho):
        finding.verdict = "inconclusive: tau1 or the refit loss is constant along t."
    elif rho <= -0.5:
        finding.verdict = (f"consistent with the theory in the derived set (Spearman "
                           f"{_num(rho)})")
        if separated:
            finding.verdict += ("; but the independent set has the derived set's loss at a "
                                "much lower tau1, so the loss follows t, not tau1.")
        else:
            finding.verdict += "."
    else:
        finding.verdict = (f"not supported: tau1 and the refit loss do not fall and rise "
                           f"together along t (Spearman {_num(rho)}).")
    return finding


def tasks_finding(entropy: pd.DataFrame, *, k: int, n_tasks: int | None = None,
                  title: str | None = None) -> Finding:
    """Findings of the tasks scenario (``entropy.tsv``) at ``k`` clusters.

    For each attack radius: the within-cluster entropy (nats) of the knowledge tree's
    clusters inside the adversarial tree's clusters, and its ARI, against the random
    trees' mean and sd. Supported where the adversarial entropy is at least
    :data:`CHANCE_SDS` sds below the random mean.
    """
    finding = Finding("tasks", title or _TITLES["tasks"])
    finding.lines.append(("Hypothesis", "tasks that share adversarial examples (adversarial "
                          "tree) share features (knowledge tree)"))
    rows = entropy[(entropy["reference"] == "knowledge") & (entropy["k"] == k)]
    adv = rows[rows["tree"] == "adversarial"]
    rnd = rows[rows["tree"] == "random"]
    if n_tasks is None:
        n_tasks = int(entropy["k"].max()) if len(entropy) else 0
    statuses = []
    for _, a in adv.iterrows():
        eps = _float(a, "eps")
        r = rnd[np.isclose(pd.to_numeric(rnd["eps"], errors="coerce"), eps)]
        mean = _float(r.iloc[0], "entropy") if len(r) else math.nan
        sd = _float(r.iloc[0], "entropy_sd") if len(r) else math.nan
        ari_r = _float(r.iloc[0], "ari") if len(r) else math.nan
        h, ari = _float(a, "entropy"), _float(a, "ari")
        finding.lines.append((
            f"eps = {_num(eps)}",
            f"entropy {_num(h)} nats vs random {_num(mean)} ± {_num(sd)} nats; "
            f"ARI {_num(ari)} vs random {_num(ari_r)} (k = {k} clusters)"))
        if not (np.isfinite(h) and np.isfinite(mean)):
            statuses.append((eps, "inconclusive"))
        elif np.isfinite(sd) and sd > 0 and h <= mean - CHANCE_SDS * sd:
            statuses.append((eps, "supported"))
        else:
            statuses.append((eps, "inconclusive"))
    finding.lines.append(("Tasks", f"{n_tasks}"))
    if n_tasks < MIN_TASKS:
        finding.verdict = f"inconclusive: n = {n_tasks} tasks (at least {MIN_TASKS} are needed)."
    elif not statuses:
        finding.verdict = f"no verdict: entropy.tsv has no adversarial tree at k = {k}."
    elif all(s == "supported" for _, s in statuses):
        finding.verdict = (f"supported: at every radius the adversarial tree's entropy is at "
                           f"least {_num(CHANCE_SDS)} sds below the random trees'.")
    elif all(s != "supported" for _, s in statuses):
        finding.verdict = (f"inconclusive: at no radius is the adversarial tree's entropy "
                           f"{_num(CHANCE_SDS)} sds below the random trees'.")
    else:
        yes = ", ".join(_num(e) for e, s in statuses if s == "supported")
        no = ", ".join(_num(e) for e, s in statuses if s != "supported")
        finding.verdict = (f"mixed: below chance by {_num(CHANCE_SDS)} sds at eps = {yes}, "
                           f"not at eps = {no}.")
    return finding


def _interval(row: pd.Series | None, n_sources: int) -> str:
    """``τ_w 0.61 [0.42, 0.80]`` of a mean row (no interval below :data:`MIN_SOURCES`)."""
    if row is None:
        return "n/a"
    text = f"mean τ_w {_num(_float(row, 'weighted_tau'))}"
    if n_sources >= MIN_SOURCES:
        text += f" [{_num(_float(row, 'weighted_tau_lo'))}, {_num(_float(row, 'weighted_tau_hi'))}]"
    return text


def _best(mean: pd.DataFrame, kind: str) -> pd.Series | None:
    rows = mean[(mean["kind"] == kind) & mean["weighted_tau"].notna()]
    return None if rows.empty else rows.sort_values("weighted_tau", ascending=False).iloc[0]


def _wins(board: pd.DataFrame, truth: str, a: str, b: str) -> tuple[int, int]:
    """(targets on which measure a's weighted tau beats b's, targets compared)."""
    per = board[(board["target"] != "mean") & (board["truth"] == truth)]
    grid = per.pivot_table(index="target", columns="measure", values="weighted_tau")
    if a not in grid or b not in grid:
        return 0, 0
    both = grid[[a, b]].dropna()
    return int((both[a] > both[b]).sum()), len(both)


def _zoo_verdict(adv: pd.Series | None, rivals: Sequence[pd.Series], n: int) -> str:
    if adv is None:
        return "no verdict: leaderboard.tsv has no adversarial measure with a finite τ_w."
    if n < MIN_SOURCES:
        return f"inconclusive: n = {n} sources (at least {MIN_SOURCES} are needed for an interval)."
    lo, hi = _float(adv, "weighted_tau_lo"), _float(adv, "weighted_tau_hi")
    names = [f"`{r['measure']}`" for r in rivals]
    if all(lo > _float(r, "weighted_tau_hi") for r in rivals):
        return (f"supported: the best adversarial measure's interval lies above those of "
                f"{' and '.join(names)}.")
    below = [f"`{r['measure']}`" for r in rivals if hi < _float(r, "weighted_tau_lo")]
    if below:
        return (f"not supported: the best adversarial measure (`{adv['measure']}`) ranks the "
                f"sources worse than {' and '.join(below)} (intervals do not overlap).")
    return (f"inconclusive: the interval of the best adversarial measure (`{adv['measure']}`) "
            f"overlaps those of {' and '.join(names)}.")


def zoo_finding(board: pd.DataFrame, *, primary: Sequence[str] | None = None,
                title: str | None = None) -> Finding:
    """Findings of the model zoo (``leaderboard.tsv``): over targets (rows ``target =
    mean``) of the first truth, the primary measure, the best adversarial measure against
    the size baseline (``param_count``) and the best estimator, on how many targets it
    beats each, and the same without the largest third of the models."""
    finding = Finding("zoo", title or _TITLES["zoo"])
    truth = str(board["truth"].iloc[0])
    mean = board[(board["target"] == "mean") & (board["truth"] == truth)]
    n = _int(mean.iloc[0], "n_sources") if len(mean) else 0
    n_targets = _int(mean.iloc[0], "n_targets") if len(mean) else 0
    finding.lines.append(("Hypothesis", f"an adversarial measure ranks the zoo's sources by "
                          f"`{truth}` better than their size and than the estimators"))
    finding.lines.append(("Pool", f"{n} sources, {n_targets} targets"))

    def get(measure: str) -> pd.Series | None:
        found = mean[mean["measure"] == measure]
        return None if found.empty else found.iloc[0]

    if primary:
        # labels are set in bold: no literals inside (reStructuredText does not nest them)
        finding.lines.append((f"Primary ({primary[0]})", _interval(get(primary[0]), n)))
    adv, est, size = _best(mean, "adversarial"), _best(mean, "estimator"), get("param_count")
    rivals = [r for r in (size, est) if r is not None]
    for label, row in (("Best adversarial", adv), ("Best estimator", est),
                       ("Size baseline", size)):
        if row is not None:
            finding.lines.append((label, f"`{row['measure']}`: {_interval(row, n)}"))
    chance = get("random")
    if chance is not None:
        finding.lines.append(("Random ranking", f"mean τ_w {_num(_float(chance, 'weighted_tau'))}"))
    if adv is not None:
        for rival in rivals:
            won, of = _wins(board, truth, adv["measure"], rival["measure"])
            finding.lines.append((f"{adv['measure']} vs {rival['measure']}",
                                  f"higher τ_w on {won} of {of} targets"))
        if "weighted_tau_without_largest" in mean:
            parts = [f"`{r['measure']}` {_num(_float(r, 'weighted_tau_without_largest'))}"
                     for r in (adv, *rivals)]
            finding.lines.append(("Without the largest third", "mean τ_w " + ", ".join(parts)))
    finding.verdict = _zoo_verdict(adv, rivals, n)
    return finding


def render_markdown(findings: Sequence[Finding], *, head: str = "") -> str:
    """The findings page as Markdown (``results/<run>/findings.md``, printed by ``make run``)."""
    parts = ["# Findings", ""]
    if head:
        parts += [head.strip(), ""]
    for f in findings:
        parts += [f"## {f.scenario}: {f.title}", ""]
        parts += [f"- {label}: {text}" for label, text in f.lines]
        parts += [f"- **Verdict:** {f.verdict}", ""]
    return "\n".join(parts).rstrip() + "\n"


def _rst_inline(text: str) -> str:
    out = []
    for i, piece in enumerate(text.split("`")):
        out.append(f"``{piece}``" if i % 2 and piece else piece.replace("*", r"\*"))
    text = "".join(out)
    for marker in ("{{", "}}", "{%", "%}", "{#", "#}"):  # the report renders it with Jinja
        text = text.replace(marker, " ".join(marker))
    return text


def render_rst(findings: Sequence[Finding], *, head: str = "", title: str = "Findings") -> str:
    """The findings page as reStructuredText (the report's first page and first item)."""
    parts = []
    if title:
        parts += [title, "=" * len(title), ""]
    if head:
        parts += [_rst_inline(head.strip()), ""]
    for f in findings:
        heading = _rst_inline(f"{f.scenario}: {f.title}")
        parts += [heading, "-" * len(heading), ""]
        parts += [f"- **{label}**: {_rst_inline(text)}" for label, text in f.lines]
        parts += [f"- **Verdict**: {_rst_inline(f.verdict)}", ""]
    return "\n".join(parts).rstrip() + "\n"
