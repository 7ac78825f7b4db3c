"""Figures of the task experiment (Liang et al., Figs. 4-5): task trees and category entropy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import seaborn as sns  # noqa: E402
from scipy.cluster import hierarchy  # noqa: E402

__all__ = ["category_colours", "clustered_heatmap", "figure4", "figure5"]


def category_colours(categories: Sequence[str]) -> dict[str, tuple]:
    """A fixed colour per category (tab10, in order of first appearance)."""
    cmap = plt.get_cmap("tab10")
    return {c: cmap(i % 10) for i, c in enumerate(dict.fromkeys(categories))}


def figure4(
    trees: Sequence[tuple[str, np.ndarray]],
    tasks: Sequence[str],
    categories: Mapping[str, str],
    *,
    cut_k: int = 3,
    title: str = "",
) -> plt.Figure:
    """Task trees side by side, leaves coloured by a-priori category (paper Figure 4).

    Args:
        trees: ``(panel title, linkage)`` pairs over ``tasks`` (leaf order = ``tasks``).
        tasks: task names.
        categories: a-priori category of every task.
        cut_k: a dashed line marks the cut into ``cut_k`` clusters.
        title: figure title.
    """
    colours = category_colours([categories[t] for t in tasks])
    n = len(tasks)
    fig, axes = plt.subplots(1, len(trees), figsize=(5.2 * len(trees), 0.32 * n + 2.8),
                             squeeze=False)
    for ax, (name, z) in zip(axes[0], trees):
        hierarchy.dendrogram(z, labels=list(tasks), orientation="left", ax=ax,
                             color_threshold=0, above_threshold_color="0.25")
        for label in ax.get_yticklabels():
            label.set_color(colours[categories[label.get_text()]])
            label.set_fontweight("bold")
        if 1 < cut_k <= n:
            height = 0.5 * (z[n - cut_k - 1, 2] + z[n - cut_k, 2]) if cut_k < n else 0.0
            ax.axvline(height, color="tab:red", ls="--", lw=1)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("Ward merge distance (transferability units)")
    handles = [Line2D([], [], color=c, lw=6, label=cat) for cat, c in colours.items()]
    handles.append(Line2D([], [], color="tab:red", ls="--", label=f"cut into k = {cut_k}"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False,
               title="a-priori task category (leaf colour)")
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.1, 1, 0.9))
    return fig


def _eps_label(eps: float) -> str:
    return f"eps = {eps:g}"


#: Trees of the tau task matrix in Figure 5: tree name -> (colour, legend name).
_TAU_TREES = {"tau1": ("tab:orange", "tau1 tree"), "tau2": ("tab:red", "tau2 tree")}


def _tau_lines(ax: plt.Axes, entropy: pd.DataFrame, col: str) -> None:
    """The tau trees against the knowledge (dash-dot) and a-priori (dotted) categories."""
    for name, (colour, label) in _TAU_TREES.items():
        for ref, style, what in (("knowledge", "-.", "knowledge categories"),
                                 ("a_priori", (0, (1, 1)), "a-priori categories")):
            sub = entropy[(entropy["tree"] == name) & (entropy["reference"] == ref)]
            if len(sub):
                ax.plot(sub["k"], sub[col], ls=style, marker="^", ms=3, color=colour,
                        label=f"{label} (first-order, matrix-free) vs {what}")


def figure5(entropy: pd.DataFrame, *, title: str = "") -> plt.Figure:
    """Mean within-category entropy and ARI against k (paper Figure 5).

    ``entropy`` has columns ``tree`` (adversarial / knowledge / random, and tau1 / tau2
    when the tau task matrix was clustered), ``eps``, ``reference`` (knowledge /
    a_priori / adversarial), ``k``, ``entropy``, ``ari`` and, for the random rows,
    ``entropy_sd``. The tau trees are drawn against the knowledge and a-priori categories.
    """
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    adv = entropy[entropy["tree"] == "adversarial"]
    eps_values = sorted(adv["eps"].dropna().unique())
    cmap = plt.get_cmap("viridis")
    for col, ax in zip(("entropy", "ari"), axes):
        for i, eps in enumerate(eps_values):
            colour = cmap(0.15 + 0.7 * i / max(len(eps_values) - 1, 1))
            for ref, style, what in (("knowledge", "-", "knowledge categories"),
                                     ("a_priori", "--", "a-priori categories")):
                sub = adv[(adv["eps"] == eps) & (adv["reference"] == ref)]
                ax.plot(sub["k"], sub[col], style, marker="o", ms=3, color=colour,
                        label=f"adversarial tree ({_eps_label(eps)}) vs {what}")
        know = entropy[(entropy["tree"] == "knowledge") & (entropy["reference"] == "a_priori")]
        ax.plot(know["k"], know[col], ":", marker="s", ms=3, color="k",
                label="knowledge tree vs a-priori categories")
        _tau_lines(ax, entropy, col)
        rand = entropy[(entropy["tree"] == "random") & (entropy["reference"] == "knowledge")]
        if len(rand) and len(eps_values):
            rand = rand[rand["eps"] == eps_values[0]]
            ax.plot(rand["k"], rand[col], color="0.5", lw=1,
                    label="random tasks-to-clusters vs knowledge categories")
            if col == "entropy" and "entropy_sd" in rand:
                ax.fill_between(rand["k"], rand[col] - rand["entropy_sd"],
                                rand[col] + rand["entropy_sd"], color="0.5", alpha=0.2)
        ax.set_xlabel("number of clusters k")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("mean within-cluster entropy of\ncategories (nats, size-weighted)")
    axes[1].set_ylabel("adjusted Rand index (dimensionless)")
    handles, labels = axes[1].get_legend_handles_labels()
    rows = -(-len(labels) // 3)  # three entries per row, below both panels
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=7, frameon=False)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.05 * rows, 1, 1))
    return fig


def clustered_heatmap(
    matrix: pd.DataFrame,
    linkage: np.ndarray,
    categories: Mapping[str, str],
    *,
    value_label: str,
    title: str = "",
) -> plt.Figure:
    """A task matrix as a clustered heatmap whose dendrograms are the task tree itself.

    Rows (targets) and columns (sources) are both ordered by ``linkage`` -- the tree of
    Figure 4 built over the matrix's source columns -- so blocks of mutually transferable
    tasks appear as squares on the diagonal; the side bars give each task's a-priori
    category in the colours of Figure 4.

    Args:
        matrix: square matrix, rows = target tasks, columns = source tasks (same order).
        linkage: SciPy linkage over ``matrix.columns``.
        categories: a-priori category of every task.
        value_label: colour-bar label, with unit.
        title: figure title.
    """
    tasks = list(matrix.columns)
    if list(matrix.index) != tasks:
        raise ValueError("clustered_heatmap needs a square matrix with rows and columns in "
                         "the same task order")
    colours = category_colours([categories[t] for t in tasks])
    side = pd.Series({t: colours[categories[t]] for t in tasks}, name="category")
    size = 0.42 * len(tasks) + 3.5
    grid = sns.clustermap(
        matrix.astype(float), row_linkage=linkage, col_linkage=linkage, cmap="viridis",
        row_colors=side, col_colors=side, figsize=(size, size), linewidths=0.3,
        cbar_kws={"label": value_label}, dendrogram_ratio=0.16,
        cbar_pos=(1.0, 0.25, 0.025, 0.45),
    )  # fmt: skip
    grid.ax_heatmap.set_xlabel("source task (attacked / transferred from)")
    grid.ax_heatmap.set_ylabel("target task")
    handles = [Line2D([], [], color=c, lw=6, label=cat) for cat, c in colours.items()]
    grid.figure.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.0, 1.0),
                       frameon=False, fontsize=8, title="a-priori category")
    grid.figure.suptitle(title, y=1.0, fontsize=10)
    return grid.figure
