"""Figures of the attributes scenario: the rendered Table 1 and the transfer scatter.

Every axis is labelled with its quantity and unit (Liang et al. Table 1; docs/method.md §9.3).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from advtransfer.attributes.experiment import attribute_kind  # noqa: E402
from advtransfer.attributes.verification import BENCHMARK_TITLES  # noqa: E402

__all__ = ["table1_figure", "transfer_scatter"]


def _pct(value: object) -> str:
    return "" if pd.isna(value) else f"{100 * float(value):.1f}"


def table1_figure(top: pd.DataFrame, benchmarks: Sequence[str], *, title: str) -> plt.Figure:
    """Paper Table 1 rendered: top attributes by adversarial transferability.

    Columns: rank, attribute, cross adversarial loss (nats), verification
    accuracy (%) per benchmark and their mean, the attribute's rank by mean verification
    accuracy among all attributes, and the k-shot identity-probe accuracy (%). The
    reference (identity) model, if present, is the last, grey row.
    """
    header = ["rank", "attribute", "cross adv.\nloss (nats)",
              *(BENCHMARK_TITLES.get(b, b) + "\n(%)" for b in benchmarks),
              "mean\n(%)", "verif.\nrank", "k-shot id.\n(%)"]
    cells, colours = [], []
    for _, row in top.iterrows():
        is_ref = pd.isna(row["rank"])
        cells.append([
            "" if is_ref else str(int(row["rank"])),
            str(row["attribute"]),
            "" if pd.isna(row["cross_adv_loss"]) else f"{row['cross_adv_loss']:.3f}",
            *(_pct(row[f"verif_{b}"]) for b in benchmarks),
            _pct(row["verification_mean"]),
            "" if pd.isna(row["verification_rank"]) else str(int(row["verification_rank"])),
            _pct(row["kshot_accuracy"]),
        ])
        colours.append(["#e8e8e8" if is_ref else "white"] * len(header))
    width = max(7.0, 1.0 * len(header) + 1.5)
    fig, ax = plt.subplots(figsize=(width, 0.32 * (len(cells) + 2) + 1.0))
    ax.axis("off")
    table = ax.table(cellText=cells, colLabels=header, cellColours=colours, loc="center",
                     cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    table.auto_set_column_width(list(range(len(header))))
    table.scale(1.0, 1.4)
    for (r, _), cell in table.get_celld().items():
        if r == 0:
            cell.set_text_props(weight="bold")
            cell.set_height(cell.get_height() * 1.6)
    ax.set_title(title + "\nverification: cosine similarity of the stripped embedding, "
                 "10-fold threshold", fontsize=10)
    fig.tight_layout()
    return fig


def _stat_line(corr: pd.DataFrame, adversarial: str, knowledge: str) -> str:
    row = corr[(corr["adversarial_measure"] == adversarial)
               & (corr["knowledge_measure"] == knowledge)]
    if not len(row):
        return ""
    r = row.iloc[0]
    return (f"Spearman {r['spearman']:.2f} [{r['spearman_lo']:.2f}, {r['spearman_hi']:.2f}]\n"
            f"Kendall {r['kendall']:.2f} [{r['kendall_lo']:.2f}, {r['kendall_hi']:.2f}]")


_KNOWLEDGE_LABELS = {
    "verification_accuracy": "mean verification accuracy over benchmarks\n(fraction of pairs)",
    "kshot_accuracy": "k-shot identity probe accuracy\n(fraction of probe test images)",
}


def transfer_scatter(table: pd.DataFrame, corr: pd.DataFrame, *, title: str) -> plt.Figure:
    """Normalised adversarial transferability against knowledge transferability.

    One point per attribute model, the attribute's name at the mean over its seeds;
    left: mean verification accuracy, right: k-shot identity-probe accuracy. The legend
    gives Spearman and Kendall correlations with 95 % bootstrap intervals over attributes.
    """
    panels = [k for k in ("verification_accuracy", "kshot_accuracy") if k in table]
    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 5.0), squeeze=False)
    names = list(dict.fromkeys(table["attribute"]))
    kinds = {name: attribute_kind(name) for name in names}
    palette = {"tied to the identity (digit class)": "tab:purple",
               "of the image alone": "tab:orange", "CelebA attribute": "tab:blue"}
    for ax, knowledge in zip(axes[0], panels):
        for name in names:
            sub = table[table["attribute"] == name]
            ax.scatter(sub["cross_adv_loss"], sub[knowledge], color=palette[kinds[name]],
                       s=30, label=kinds[name])
            ax.annotate(name, (sub["cross_adv_loss"].mean(), sub[knowledge].mean()),
                        fontsize=7, xytext=(3, 3), textcoords="offset points")
        stat = _stat_line(corr, "cross_adv_loss", knowledge)
        if stat:
            ax.text(0.02, 0.98, stat, transform=ax.transAxes, va="top", fontsize=8,
                    bbox={"boxstyle": "round", "fc": "white", "ec": "0.8", "alpha": 0.85})
        ax.set_xlabel("cross adversarial loss\n(reference identity CE under the "
                      "attribute's PGD images, nats)")
        ax.set_ylabel(_KNOWLEDGE_LABELS[knowledge])
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    fig.legend(unique.values(), unique.keys(), loc="lower center", ncol=len(unique),
               fontsize=8, frameon=False, title="attribute")
    fig.suptitle(title + "\n(95 % bootstrap intervals over attributes)")
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    return fig
