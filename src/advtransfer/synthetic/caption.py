"""Figure 2's caption, generated from the sweep table (docs/method.md §9.1).

Every claim the caption makes about the data (which way each quantity moves along ``t``
and by how much, whether it is monotone, how loose each bound is, what the independent set
shows) is computed here from ``sweep.tsv``; nothing about the numbers is written by hand.
The output is reStructuredText for the Snakemake report (plain text, no Jinja markup).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = [
    "FLAT_TOLERANCE",
    "SAME_TOLERANCE",
    "describe_trend",
    "figure2_caption",
    "figure2_findings",
    "independent_set_sentence",
]

#: A mean curve whose range is below this fraction of its largest magnitude "stays near" a value.
FLAT_TOLERANCE = 0.05
#: Two losses within this relative difference are called equal (independent-set sentence).
SAME_TOLERANCE = 0.10
#: Changes between neighbouring t below this fraction of the curve's range count as no change.
_STEP_TOLERANCE = 1e-9

SET_NAMES = {
    "derived": "Derived set (W_S = W_T + tV)",
    "independent": "Independent set (W_S = W_0 + tV, W_0 trained from another seed)",
}

#: (column, name in the caption) of the quantities whose course along t is described.
TREND_QUANTITIES = [
    ("tau1", "tau1"),
    ("tau2", "tau2"),
    ("alpha", "alpha"),
    ("transferred_loss", "the transferred loss (last layer refit)"),
    ("affine_transferred_loss", "the loss of the best affine map on outputs"),
    ("grad_diff", "G"),
]


def _num(value: float, scale: float = 0.0) -> str:
    """Three significant digits; ``0`` for values at round-off level of ``scale``."""
    if not math.isfinite(value):
        return str(value)
    if scale > 0 and abs(value) < 1e-12 * scale:
        return "0"
    return f"{value:.3g}"


def _t(value: float) -> str:
    return f"{value:g}"


def _change(start: float, end: float, scale: float) -> str:
    """`` (-85 %)`` or `` (36-fold)``; empty when ``start`` is 0 or of another sign."""
    if abs(start) < 1e-12 * scale or start * end <= 0:
        return ""
    if end / start >= 2:
        fold = end / start
        return f" ({fold:.0f}-fold)" if fold >= 10 else f" ({fold:.2g}-fold)"
    return f" ({100.0 * (end - start) / abs(start):+.0f} %)"


def _segments(values: np.ndarray) -> list[tuple[int, int, int]]:
    """Maximal runs ``(start index, end index, sign)`` of rising (+1) or falling (-1) steps.

    Steps smaller than a tiny fraction of the range are absorbed into the surrounding run.
    """
    span = float(values.max() - values.min())
    steps = np.diff(values)
    signs = np.where(np.abs(steps) <= _STEP_TOLERANCE * span, 0, np.sign(steps)).astype(int)
    runs: list[list[int]] = []
    for i, sign in enumerate(signs):
        if sign == 0:
            if runs:
                runs[-1][1] = i + 1
            continue
        if runs and runs[-1][2] == sign:
            runs[-1][1] = i + 1
        else:
            start = runs[-1][1] if runs else 0
            runs.append([start, i + 1, int(sign)])
    if runs:
        runs[0][0] = 0
    return [tuple(r) for r in runs]


def describe_trend(t: np.ndarray, values: np.ndarray, name: str) -> str:
    """One clause on how ``values`` (means over directions, one per ``t``) move along ``t``.

    Examples: ``"tau1 falls monotonically from 1 to 0.15 (-85 %)"``,
    ``"tau2 rises from 0.0708 to 0.323 up to t = 0.3, then falls to 0.113 at t = 1 (not
    monotone)"``, ``"G stays within 3 % of 1.49: it falls from ..."``.
    """
    order = np.argsort(t)
    t = np.asarray(t, dtype=float)[order]
    v = np.asarray(values, dtype=float)[order]
    scale = float(np.abs(v).max()) if len(v) else 0.0
    if len(v) < 2 or scale == 0.0:
        return f"{name} is {_num(float(v[0]) if len(v) else math.nan)} at every t"
    start, end = float(v[0]), float(v[-1])
    span = float(v.max() - v.min())
    runs = _segments(v)
    if not runs:
        return f"{name} stays at {_num(start, scale)} for every t"
    if len(runs) == 1:
        verb = "rises" if runs[0][2] > 0 else "falls"
        path = (
            f"{verb} monotonically from {_num(start, scale)} to {_num(end, scale)}"
            f"{_change(start, end, scale)}"
        )
    elif len(runs) <= 3:
        parts = []
        for k, (i0, i1, sign) in enumerate(runs):
            verb = "rises" if sign > 0 else "falls"
            if k == 0:
                parts.append(
                    f"{verb} from {_num(v[i0], scale)} to {_num(v[i1], scale)} "
                    f"up to t = {_t(t[i1])}"
                )
            elif k == len(runs) - 1:
                parts.append(f"then {verb} to {_num(v[i1], scale)} at t = {_t(t[i1])}")
            else:
                parts.append(f"{verb} to {_num(v[i1], scale)} up to t = {_t(t[i1])}")
        path = ", ".join(parts) + " (not monotone)"
    else:
        i_min, i_max = int(v.argmin()), int(v.argmax())
        path = (
            f"changes direction {len(runs) - 1} times: from "
            f"{_num(start, scale)} to {_num(end, scale)}, between {_num(v[i_min], scale)} "
            f"(t = {_t(t[i_min])}) and {_num(v[i_max], scale)} (t = {_t(t[i_max])})"
        )
    if span < FLAT_TOLERANCE * scale:
        centre = float(v.mean())
        within = f"{100 * span / scale:.1g} % of {_num(centre, scale)}"
        return f"{name} stays within {within}: it {path}"
    return f"{name} {path}"


def _means(sub: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    stats = sub.groupby("t")[column].mean().sort_index()
    return stats.index.to_numpy(dtype=float), stats.to_numpy(dtype=float)


def _range(values: pd.Series, note: str = "") -> str:
    values = values.dropna()
    if values.empty:
        return "undefined" + (f" ({note})" if note else "")
    lo, hi, med = float(values.min()), float(values.max()), float(values.median())
    return f"{_num(lo)} to {_num(hi)} (median {_num(med)}{'; ' + note if note else ''})"


def _bound_sentences(sub: pd.DataFrame) -> list[str]:
    n = len(sub)
    out = []
    if {"thm2_bound", "grad_diff"} <= set(sub.columns):
        holds = int((sub["thm2_bound"] >= sub["grad_diff"]).sum())
        text = f"Theorem 2's bound is at least G on {holds} of {n} rows"
        if "thm2_ratio" in sub.columns:
            undefined = int(sub["thm2_ratio"].isna().sum())
            note = f"{undefined} rows with G numerically 0 left out" if undefined else ""
            text += f"; bound / G is {_range(sub['thm2_ratio'], note)}"
        out.append(text + ".")
    if {"thm3_bound", "g_transferred_loss"} <= set(sub.columns):
        holds = int((sub["thm3_bound"] >= sub["g_transferred_loss"]).sum())
        text = f"Theorem 3's bound is at least the loss of g∘f_S on {holds} of {n} rows"
        if "thm3_ratio" in sub.columns:
            text += f"; bound / loss is {_range(sub['thm3_ratio'])}"
        out.append(text + ".")
    if {"prop2_lower", "first_order_cross_loss", "prop2_upper"} <= set(sub.columns):
        loss = sub["first_order_cross_loss"]
        tol = 1e-12 * float(sub["prop2_upper"].abs().max() or 1.0)
        inside = int(((sub["prop2_lower"] <= loss + tol) & (loss <= sub["prop2_upper"] + tol)).sum())
        ratio = sub["prop2_upper"] / sub["prop2_lower"].where(sub["prop2_lower"] > 0)
        out.append(
            f"Proposition 2 brackets the first-order cross loss on {inside} of {n} rows; "
            f"upper / lower is {_range(ratio)}."
        )
    if {"affine_transferred_loss", "transferred_loss"} <= set(sub.columns):
        ratio = sub["affine_transferred_loss"] / sub["transferred_loss"]
        out.append(
            "The best affine map on outputs loses "
            f"{_range(ratio)} times as much as the last-layer refit."
        )
    return out


def independent_set_sentence(sweep: pd.DataFrame) -> str:
    """What the independent set shows about tau1 vs the refit loss, from the numbers.

    Compares, at the smallest t, the independent set's refit loss with the target's own
    loss and its tau1 with the derived set's; and, along t, the refit-loss curves of the two
    sets. Empty when a set or a column is missing.
    """
    need = {"set", "t", "tau1", "transferred_loss", "target_loss"}
    if not need <= set(sweep.columns) or not {"derived", "independent"} <= set(sweep["set"]):
        return ""
    ind = sweep[sweep["set"] == "independent"]
    der = sweep[sweep["set"] == "derived"]
    t_ind, loss_ind = _means(ind, "transferred_loss")
    t_der, loss_der = _means(der, "transferred_loss")
    _, tau1_ind = _means(ind, "tau1")
    _, tau1_der = _means(der, "tau1")
    target = float(ind["target_loss"].mean())
    t0 = t_ind[0]
    rel0 = (loss_ind[0] - target) / target if target > 0 else math.inf
    if abs(rel0) <= SAME_TOLERANCE:
        at0 = (
            f"the refit loss equals the target's own loss to within {abs(100 * rel0):.0f} % "
            f"({_num(loss_ind[0])} vs {_num(target)})"
        )
    else:
        at0 = (
            f"the refit loss is {_num(loss_ind[0] / target)} times the target's own loss "
            f"({_num(loss_ind[0])} vs {_num(target)})"
        )
    low_tau1 = tau1_ind[0] <= 0.5
    first = (
        f"In the independent set at t = {_t(t0)} {at0} "
        f"{'although' if low_tau1 else 'with'} tau1 is {_num(tau1_ind[0])} "
        f"(derived set: {_num(tau1_der[0])})."
    )
    common = np.intersect1d(t_ind, t_der)
    if len(common) < 2:
        return first
    li = pd.Series(loss_ind, index=t_ind)[common].to_numpy()
    ld = pd.Series(loss_der, index=t_der)[common].to_numpy()
    gap = float(np.max(np.abs(li - ld) / np.maximum((li + ld) / 2, 1e-300)))
    ti = pd.Series(tau1_ind, index=t_ind)[common].to_numpy()
    td = pd.Series(tau1_der, index=t_der)[common].to_numpy()
    tau_gap = float(np.max(np.abs(ti - td)))
    loss_moves = float(min(ld.max() / max(ld.min(), 1e-300), li.max() / max(li.min(), 1e-300)))
    second = (
        f"Along t the refit loss goes from {_num(ld[0])} to {_num(ld[-1])} in the derived set "
        f"and from {_num(li[0])} to {_num(li[-1])} in the independent set (the two curves "
        f"differ by at most {100 * gap:.0f} % at any t), while the sets' tau1 differ by up to "
        f"{_num(tau_gap)} (tau1 goes from {_num(td[0])} to {_num(td[-1])} and from "
        f"{_num(ti[0])} to {_num(ti[-1])})."
    )
    if abs(rel0) <= SAME_TOLERANCE and low_tau1 and gap <= SAME_TOLERANCE and loss_moves > 2:
        third = (
            "At equal t, sources with very different tau1 have almost the same refit loss: "
            "the loss follows t, not tau1. Along t both quantities are driven by t, so their "
            "co-variation in the derived set is no evidence that tau1 predicts the loss."
        )
    elif gap > SAME_TOLERANCE:
        third = (
            f"The refit losses of the two sets differ by up to {100 * gap:.0f} %, so here the "
            "loss depends on more than t."
        )
    else:
        third = "The data do not separate the effect of t from that of tau1."
    return f"{first} {second} {third}"


def figure2_findings(sweep: pd.DataFrame) -> str:
    """The data-driven part of Figure 2's caption (reStructuredText paragraphs)."""
    paragraphs = []
    for name in ("derived", "independent"):
        sub = sweep[sweep["set"] == name]
        if sub.empty:
            continue
        n_dir = sub["direction"].nunique() if "direction" in sub.columns else 1
        t_lo, t_hi = float(sub["t"].min()), float(sub["t"].max())
        clauses = []
        for column, label in TREND_QUANTITIES:
            if column in sub.columns:
                t, v = _means(sub, column)
                clauses.append(describe_trend(t, v, label))
        text = (
            f"{SET_NAMES.get(name, name)}, means over {n_dir} directions from t = {_t(t_lo)} "
            f"to t = {_t(t_hi)}: " + "; ".join(clauses) + "."
        )
        paragraphs.append(" ".join([text, *_bound_sentences(sub)]))
    sentence = independent_set_sentence(sweep)
    if sentence:
        paragraphs.append(sentence)
    return "\n\n".join(paragraphs)


def figure2_caption(sweep: pd.DataFrame, head: str = "") -> str:
    """``head`` (the hand-written description of the figure, no data claims) + findings."""
    findings = figure2_findings(sweep)
    for marker in ("{{", "}}", "{%", "%}", "{#", "#}"):  # the report renders it with Jinja
        findings = findings.replace(marker, " ".join(marker))
    parts = [head.strip(), "Findings, generated from sweep.tsv:", findings]
    return "\n\n".join(p for p in parts if p) + "\n"
