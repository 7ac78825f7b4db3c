"""Leaderboard figure: rank agreement of each measure with its interval, beside its cost."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from advtransfer.core.names import MEASURE_NAMES  # noqa: E402
from advtransfer.core.names import TRUTH_NAMES as _TRUTH_NAMES  # noqa: E402

__all__ = ["MEASURE_NAMES", "leaderboard_figure"]


def _tick(measure: str) -> str:
    """``display name (column)``, or the column name alone where it has no display name."""
    name = MEASURE_NAMES.get(measure)
    return measure if name is None or name == measure else f"{name} ({measure})"


_KIND_COLOURS = {"estimator": "tab:blue", "adversarial": "tab:red", "baseline": "0.35"}


def leaderboard_figure(
    board: pd.DataFrame,
    *,
    agreement: str = "weighted_tau",
    title: str = "",
    truths: Sequence[str] | None = None,
) -> plt.Figure:
    """Two panels sharing the measures: agreement with intervals, and cost (log scale).

    Args:
        board: rows of :func:`advtransfer.core.scoring.rank_measures` (``truth``,
            ``measure``, ``kind``, ``<agreement>``, ``<agreement>_lo/_hi``, ``cost_s``,
            optionally ``compute_s``).
        agreement: which agreement column to plot.
        title: figure title.
        truths: truths to draw (default: all, in table order); the first orders the rows.

    Returns:
        the figure. Right panel: bars are the wall-clock seconds of the jobs a measure
        needs over the pool (``cost_s``), ticks the in-process computation
        (``compute_s``, estimators only).
    """
    truths = list(truths or dict.fromkeys(board["truth"]))
    first = board[board["truth"] == truths[0]]
    order = list(first.sort_values(agreement, na_position="first")["measure"])
    kinds = dict(zip(first["measure"], first["kind"], strict=True))
    ypos = {m: i for i, m in enumerate(order)}
    fig, (ax, ax_cost) = plt.subplots(
        1, 2, figsize=(10, 0.38 * len(order) + 2.2), sharey=True,
        gridspec_kw={"width_ratios": [2.2, 1]},
    )
    markers = ["o", "s", "^", "D"]
    offsets = np.linspace(-0.18, 0.18, len(truths)) if len(truths) > 1 else [0.0]
    for j, truth in enumerate(truths):
        sub = board[board["truth"] == truth].set_index("measure").reindex(order)
        y = np.array([ypos[m] for m in order]) + offsets[j]
        est = sub[agreement].to_numpy(dtype=float)
        lo = sub[f"{agreement}_lo"].to_numpy(dtype=float)
        hi = sub[f"{agreement}_hi"].to_numpy(dtype=float)
        err = np.vstack([np.clip(est - lo, 0, None), np.clip(hi - est, 0, None)])
        ax.errorbar(est, y, xerr=np.nan_to_num(err), fmt=markers[j % len(markers)],
                    color=("k", "0.55", "0.3", "0.75")[j % 4], ms=5, capsize=2, lw=1,
                    label=f"vs {_TRUTH_NAMES.get(truth, truth)}")
    ax.axvline(0.0, color="0.6", lw=0.8, ls="--")
    ax.set_xlim(-1.05, 1.05)
    label = {"weighted_tau": "weighted Kendall τ_w", "kendall": "Kendall τ",
             "spearman": "Spearman ρ", "pearson": "Pearson r"}.get(agreement, agreement)
    ax.set_xlabel(f"{label} with ground truth over sources\n(dimensionless; bars: 95 % bootstrap)")
    ax.set_yticks(range(len(order)))
    ax.set_yticklabels([_tick(m) for m in order])
    for tick, m in zip(ax.get_yticklabels(), order, strict=True):
        tick.set_color(_KIND_COLOURS.get(kinds.get(m), "k"))
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, fontsize=8, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    indexed = first.set_index("measure").reindex(order)
    cost = indexed["cost_s"].to_numpy(dtype=float)
    ax_cost.barh(range(len(order)), np.where(np.isfinite(cost), np.maximum(cost, 1e-4), 0),
                 color=[_KIND_COLOURS.get(kinds.get(m), "0.5") for m in order], alpha=0.8,
                 label="jobs as run (start-up incl.)")
    for i, value in enumerate(cost):
        if np.isfinite(value):
            ax_cost.text(max(value, 1e-4), i, f" {value:.3g}", va="center", fontsize=7)
    if "compute_s" in indexed:
        compute = indexed["compute_s"].to_numpy(dtype=float)
        shown = np.isfinite(compute)
        ax_cost.plot(np.maximum(compute[shown], 1e-4), np.arange(len(order))[shown], "k|",
                     ms=9, mew=2, label="computation only")
    ax_cost.set_xscale("log")
    ax_cost.margins(x=0.3)
    ax_cost.set_xlabel("cost over the pool\n(wall-clock s, log)")
    ax_cost.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=1, fontsize=7,
                   frameon=False)
    ax_cost.grid(axis="x", alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
