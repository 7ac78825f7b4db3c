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
    "probe_neg_loss": "− transfer loss (−CE, nats)",
}


def _ordered_groups(table: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(table.sort_values("dataset")["label"]))


def transfer_bars(table: pd.DataFrame, *, title: str) -> plt.Figure:
    """Paper Figure 3 style: per source data set, adversarial loss beside transfer accuracy.

    Bars are means over the seeds of each source data set; dots are single models.
    """
    labels = _ordered_groups(table)
    panels = [
        ("cross_adv_loss", "tab:red"),
        ("probe_accuracy", "tab:blue"),
        ("kshot_accuracy", "tab:cyan"),
    ]
    panels = [p for p in panels if p[0] in table]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.8 * len(panels), 4.4))
    for ax, (col, colour) in zip(axes, panels):
        grouped = table.groupby("label")[col]
        means = grouped.mean().reindex(labels)
        stds = grouped.std().reindex(labels).fillna(0.0)
        pos = range(len(labels))
        ax.bar(pos, means, yerr=stds, color=colour, alpha=0.6, capsize=3, label="mean ± sd over seeds")
        for i, lab in enumerate(labels):
            vals = table.loc[table["label"] == lab, col]
            ax.scatter([i] * len(vals), vals, color="k", s=12, zorder=3)
        ax.set_xticks(list(pos), labels, rotation=30, ha="right")
        ax.set_xlabel("source data set")
        ax.set_ylabel(MEASURE_LABELS.get(col, col))
        lo = float((means - stds).min())
        hi = float((means + stds).max())
        if col != "cross_adv_loss":
            ax.set_ylim(max(0.0, lo - 0.1 * (hi - lo) - 0.02), min(1.0, hi + 0.1 * (hi - lo) + 0.02))
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8, loc="lower left")
    fig.suptitle(title)
    fig.tight_layout()
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
                        line_kws={"lw": 1, "label": "least-squares line, 95 % band\n"
                                  "(bootstrap over sources)"})
        for lab in labels:
            sub = table[table["label"] == lab]
            ax.scatter(sub[measure], sub[knowledge], color=colours[lab], s=28, label=lab)
        if len(row):
            r = row.iloc[0]
            stat = (
                f"Spearman {r['spearman']:.2f} [{r['spearman_lo']:.2f}, {r['spearman_hi']:.2f}]\n"
                f"Kendall {r['kendall']:.2f} [{r['kendall_lo']:.2f}, {r['kendall_hi']:.2f}]"
            )
            ax.plot([], [], " ", label=stat)
        ax.set_xlabel(MEASURE_LABELS.get(measure, measure))
        ax.set_ylabel(MEASURE_LABELS.get(knowledge, knowledge))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    for ax in list(axes.flat)[len(measures):]:
        ax.set_visible(False)
    fig.suptitle(title + "\n(95 % bootstrap intervals over source data sets)")
    fig.tight_layout()
    return fig
