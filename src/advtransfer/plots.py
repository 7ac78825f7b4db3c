"""Figures shared by the scenarios. Every axis is labelled with its quantity and unit."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

__all__ = ["MEASURE_LABELS", "transfer_bars", "transfer_scatter"]

MEASURE_LABELS = {
    "cross_adv_loss": "cross adversarial loss\n(reference CE on source PGD images, nats)",
    "adv_loss_ratio": "normalised cross adv. loss\n(ratio to the reference's own attack)",
    "flip_rate": "reference flip rate\n(fraction of images)",
    "tau1": "τ1 (dimensionless)",
    "tau2": "τ2 (dimensionless)",
    "alpha": "α, first order (dimensionless)",
    "probe_accuracy": "transfer accuracy, full linear probe\n(fraction of target test images)",
    "kshot_accuracy": "transfer accuracy, k-shot probe\n(fraction of target test images)",
}


def _ordered_groups(table: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(table.sort_values("dataset")["label"]))


def transfer_bars(table: pd.DataFrame, *, title: str) -> plt.Figure:
    """Paper Figure 3 style: per source data set, adversarial loss beside transfer accuracy.

    Each source data set is a point at the mean over its seeds with a bar of ± one
    standard deviation, and the single models as small dots: points, not bars, so that a
    y-axis that does not start at 0 never exaggerates a difference.
    """
    labels = _ordered_groups(table)
    panels = [
        ("cross_adv_loss", "tab:red"),
        ("probe_accuracy", "tab:blue"),
        ("kshot_accuracy", "tab:cyan"),
    ]
    panels = [p for p in panels if p[0] in table]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.6), squeeze=False)
    for ax, (col, colour) in zip(axes[0], panels):
        grouped = table.groupby("label")[col]
        means = grouped.mean().reindex(labels)
        stds = grouped.std().reindex(labels).fillna(0.0)
        pos = np.arange(len(labels))
        ax.errorbar(pos, means, yerr=stds, fmt="o", color=colour, ms=7, capsize=4, lw=1.5,
                    label="mean ± sd over seeds")
        for i, lab in enumerate(labels):
            vals = table.loc[table["label"] == lab, col]
            ax.scatter(np.full(len(vals), i + 0.12), vals, color="k", s=10, zorder=3,
                       label="single model" if i == 0 else None)
        ax.set_xticks(list(pos), labels, rotation=30, ha="right", fontsize=8)
        ax.set_xlabel("source data set")
        ax.set_ylabel(MEASURE_LABELS.get(col, col))
        ax.grid(axis="y", alpha=0.3)
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def transfer_scatter(
    table: pd.DataFrame, corr: pd.DataFrame, *, knowledge: str, measures, title: str
) -> plt.Figure:
    """Each adversarial measure against transfer accuracy, Spearman/Kendall in the legend.

    A least-squares line with its 95 % band (seaborn ``regplot``, bootstrap over sources)
    shows the trend; the rank correlations and their intervals come from ``corr``.
    """
    measures = [m for m in measures if m in table]
    ncols = 3
    nrows = -(-len(measures) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.0 * ncols, 4.0 * nrows), squeeze=False)
    labels = _ordered_groups(table)
    colours = dict(zip(labels, plt.get_cmap("viridis")(np.linspace(0, 0.9, len(labels)))))
    for ax, measure in zip(axes.flat, measures):
        row = corr[(corr["adversarial_measure"] == measure) & (corr["knowledge_measure"] == knowledge)]
        if table[measure].notna().sum() >= 3 and table[measure].nunique() > 1:
            sns.regplot(x=table[measure].to_numpy(float), y=table[knowledge].to_numpy(float),
                        scatter=False, ci=95, n_boot=1000, seed=0, ax=ax, color="0.45",
                        line_kws={"lw": 1})
        for lab in labels:
            sub = table[table["label"] == lab]
            ax.scatter(sub[measure], sub[knowledge], color=colours[lab], s=28, label=lab)
        if len(row):
            r = row.iloc[0]
            stat = (
                f"Spearman {r['spearman']:.2f} [{r['spearman_lo']:.2f}, {r['spearman_hi']:.2f}]\n"
                f"Kendall {r['kendall']:.2f} [{r['kendall_lo']:.2f}, {r['kendall_hi']:.2f}]"
            )
            ax.text(0.02, 0.98, stat, transform=ax.transAxes, va="top", fontsize=8,
                    bbox={"boxstyle": "round", "fc": "white", "ec": "0.8", "alpha": 0.85})
        ax.set_xlabel(MEASURE_LABELS.get(measure, measure))
        ax.set_ylabel(MEASURE_LABELS.get(knowledge, knowledge))
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(measures):]:
        ax.set_visible(False)
    handles, names = axes.flat[0].get_legend_handles_labels()
    band = plt.Line2D([], [], color="0.45", lw=6, alpha=0.35)
    fig.legend([*handles, band], [*names, "least-squares line, 95 % band (bootstrap over sources)"],
               loc="lower center", ncol=min(len(names) + 1, 4), fontsize=8, frameon=False,
               title="source data set")
    fig.suptitle(title + "\n(rank correlations with 95 % intervals over source data sets)")
    rows = -(-(len(names) + 1) // 4)
    fig.tight_layout(rect=(0, 0.04 + 0.035 * rows, 1, 1))
    return fig
