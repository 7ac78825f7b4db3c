"""Figures of the model zoo: the leaderboard over targets, its robustness, and cost."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from advtransfer.core.names import MEASURE_NAMES, TRUTH_NAMES  # noqa: E402

__all__ = ["cost_figure", "leaderboard_figure", "robustness_figure"]

_KIND_COLOURS = {"estimator": "tab:blue", "adversarial": "tab:red", "baseline": "0.35"}
_TARGET_MARKERS = ["s", "^", "v", "D", "P", "X"]


def _name(measure: str) -> str:
    name = MEASURE_NAMES.get(measure, measure)
    return measure if name == measure else f"{name} ({measure})"


def _mean_rows(board: pd.DataFrame, truth: str) -> pd.DataFrame:
    mean = board[(board["target"] == "mean") & (board["truth"] == truth)]
    return mean.sort_values("weighted_tau", na_position="first", kind="stable")


def leaderboard_figure(board: pd.DataFrame, truth: str) -> plt.Figure:
    """Weighted tau of every measure per target (small markers) and its mean over targets
    with the bootstrap interval (black), measures ordered by the mean; tick labels coloured
    by kind (red adversarial, blue estimator, grey baseline)."""
    mean = _mean_rows(board, truth)
    order = list(mean["measure"])
    y = np.arange(len(order))
    fig, ax = plt.subplots(figsize=(8.5, 0.34 * len(order) + 2.0))
    targets = [t for t in dict.fromkeys(board["target"]) if t != "mean"]
    for j, target in enumerate(targets):
        sub = board[(board["target"] == target) & (board["truth"] == truth)]
        values = sub.set_index("measure")["weighted_tau"].reindex(order).to_numpy(float)
        ax.plot(values, y + 0.12 * (j - (len(targets) - 1) / 2), _TARGET_MARKERS[j % 6],
                ms=4, alpha=0.7, label=f"target {target}", ls="none")
    est = mean["weighted_tau"].to_numpy(float)
    err = np.vstack([est - mean["weighted_tau_lo"].to_numpy(float),
                     mean["weighted_tau_hi"].to_numpy(float) - est])
    ax.errorbar(est, y, xerr=np.nan_to_num(np.clip(err, 0, None)), fmt="o", color="k", ms=5,
                capsize=2, lw=1, label="mean over targets (95 % bootstrap)")
    ax.axvline(0.0, color="0.6", lw=0.8, ls="--")
    ax.set_yticks(y)
    ax.set_yticklabels([_name(m) for m in order])
    kinds = dict(zip(mean["measure"], mean["kind"], strict=True))
    for tick, m in zip(ax.get_yticklabels(), order, strict=True):
        tick.set_color(_KIND_COLOURS.get(kinds.get(m), "k"))
    ax.set_xlim(-1.05, 1.05)
    ax.set_xlabel(f"weighted Kendall τ_w with {TRUTH_NAMES.get(truth, truth)} over sources\n"
                  "(dimensionless; random ranking: central 95 % of random rankings)")
    ax.set_ylabel("measure (red adversarial, blue estimator, grey baseline)")
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, fontsize=8, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def robustness_figure(pairs: pd.DataFrame, board: pd.DataFrame, truth: str) -> plt.Figure:
    """Share of random source subsets (and targets) in which the row measure beats the
    column measure on weighted tau, measures ordered by their mean over targets."""
    order = list(_mean_rows(board, truth)["measure"])[::-1]
    order = [m for m in order if m in set(pairs["measure_a"])]
    grid = pairs.pivot(index="measure_a", columns="measure_b", values="subset_share")
    grid = grid.reindex(index=order, columns=order)
    fig, ax = plt.subplots(figsize=(0.42 * len(order) + 3.5, 0.42 * len(order) + 2.5))
    image = ax.imshow(grid.to_numpy(float), vmin=0.0, vmax=1.0, cmap="RdBu_r")
    ax.set_xticks(range(len(order)))
    ax.set_xticklabels([MEASURE_NAMES.get(m, m) for m in order], rotation=90, fontsize=7)
    ax.set_yticks(range(len(order)))
    ax.set_yticklabels([MEASURE_NAMES.get(m, m) for m in order], fontsize=7)
    ax.set_xlabel("measure B")
    ax.set_ylabel("measure A (ordered by mean τ_w, best first)")
    bar = fig.colorbar(image, ax=ax, fraction=0.04)
    bar.set_label("share of (source subset, target) draws in which A beats B on τ_w (fraction)")
    fig.tight_layout()
    return fig


def cost_figure(costs: pd.DataFrame) -> plt.Figure:
    """Mean weighted tau over targets against the wall-clock cost of the jobs behind each
    measure (log scale); the baselines, which cost nothing extra, as horizontal lines."""
    fig, ax = plt.subplots(figsize=(7.5, 5.0))
    paid = costs[costs["cost_s"] > 0]
    for kind, sub in paid.groupby("kind"):
        ax.scatter(sub["cost_s"], sub["weighted_tau"], color=_KIND_COLOURS.get(kind, "k"),
                   label=kind, s=28, zorder=3)
        for row in sub.itertuples():
            ax.annotate(MEASURE_NAMES.get(row.measure, row.measure),
                        (row.cost_s, row.weighted_tau), fontsize=7, xytext=(3, 2),
                        textcoords="offset points")
    for row in costs[costs["cost_s"] <= 0].itertuples():
        if np.isfinite(row.weighted_tau):
            ax.axhline(row.weighted_tau, color="0.5", lw=0.8, ls=":")
            ax.annotate(f"{MEASURE_NAMES.get(row.measure, row.measure)} (no extra cost)",
                        (0.01, row.weighted_tau), xycoords=("axes fraction", "data"),
                        fontsize=7, color="0.35", va="bottom")
    ax.set_xscale("log")
    ax.set_xlabel("cost: wall-clock seconds of the jobs the measure needs, whole zoo (log)")
    ax.set_ylabel("mean weighted Kendall τ_w over targets (dimensionless)")
    ax.axhline(0.0, color="0.7", lw=0.8)
    ax.legend(fontsize=8, loc="center right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
