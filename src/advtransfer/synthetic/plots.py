"""Paper Figure 2 of the synthetic experiment. Every axis is labelled with quantity and unit."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

__all__ = ["figure2", "SET_TITLES"]

SET_TITLES = {
    "derived": "Sources derived from the target: W_S = W_T + tV",
    "independent": "Sources derived from an independently trained model: W_S = W_0 + tV",
}

#: One colour per role, the same in every row and column: adversarial measures in blues
#: and greens, true quantities in black, their bounds in red, the target's own loss grey.
COLOURS = {
    "tau1": "tab:blue", "tau2": "tab:cyan", "alpha": "tab:green",
    "grad_diff": "black", "thm2_bound": "tab:red",
    "transferred_loss": "black", "affine_transferred_loss": "tab:purple", "target_loss": "0.55",
    "thm3_bound": "tab:red", "g_transferred_loss": "black",
    "prop2_upper": "tab:red", "first_order_cross_loss": "black", "prop2_lower": "tab:orange",
    "thm2_ratio": "tab:red", "thm3_ratio": "tab:orange",
}

_ROWS = [
    (
        [("tau1", "τ1"), ("tau2", "τ2"), ("alpha", "α (first order)")],
        "adversarial transferability\n(dimensionless, in [0, 1])",
        "linear",
    ),
    (
        [("grad_diff", "G = E‖J_T − A J_S‖²"), ("thm2_bound", "Theorem 2 bound")],
        "gradient difference\n(output² / input², log scale)",
        "log",
    ),
    (
        [
            ("transferred_loss", "transferred loss (refit last layer)"),
            ("affine_transferred_loss", "transferred loss (best affine map on outputs)"),
            ("target_loss", "target loss"),
        ],
        "in-sample MSE\n(output², log scale)",
        "log",
    ),
    (
        [("thm3_bound", "Theorem 3 bound"), ("g_transferred_loss", "loss of g∘f_S")],
        "transferred loss and bound\n(output², log scale)",
        "log",
    ),
    (
        [
            ("prop2_upper", "Prop. 2 upper bound"),
            ("first_order_cross_loss", "first-order cross loss E‖J_T v_S‖²"),
            ("prop2_lower", "Prop. 2 lower bound"),
        ],
        "target loss under source attack\nper unit ε² (output² / input², log scale)",
        "log",
    ),
    (
        [("thm2_ratio", "Theorem 2: bound / G"), ("thm3_ratio", "Theorem 3: bound / loss of g∘f_S")],
        "looseness: bound / true value\n(dimensionless, log scale)",
        "log",
    ),
]


def figure2(sweep: pd.DataFrame, *, title_suffix: str = "") -> plt.Figure:
    """Paper Figure 2: the sweep quantities against ``t``, one column per set.

    Each line is the mean over random directions; the band spans min to max.
    """
    sets = [s for s in ("derived", "independent") if s in set(sweep["set"])]
    fig, axes = plt.subplots(
        len(_ROWS), len(sets), figsize=(6.4 * len(sets) + 3.2, 17), sharex=True, squeeze=False
    )
    for col, name in enumerate(sets):
        sub = sweep[sweep["set"] == name]
        for row, (series, ylabel, scale) in enumerate(_ROWS):
            ax = axes[row][col]
            series = [(key, label) for key, label in series if key in sub.columns]
            for key, label in series:
                stats = sub.groupby("t")[key].agg(["mean", "min", "max"])
                colour = COLOURS.get(key)
                (line,) = ax.plot(stats.index, stats["mean"], marker="o", ms=3, label=label,
                                  color=colour)
                ax.fill_between(
                    stats.index, stats["min"], stats["max"], color=line.get_color(), alpha=0.2
                )
            if scale == "log" and series:
                values = sub[[key for key, _ in series]].to_numpy()
                values = values[np.isfinite(values)]  # ratios are NaN where G is 0
                if values.size and values.min() > 1e-6 * values.max():  # log also labels minor ticks
                    ax.set_yscale("log")
                else:  # symlog keeps (numerical) zeros, e.g. G at t = 0, on the axis
                    ax.set_yscale("symlog", linthresh=1e-3)
            else:
                ax.set_yscale(scale)
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
            if col == len(sets) - 1 and series:  # one legend per row, right of the last column
                ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                          frameon=False)
            if row == 0:
                n_dir = sub["direction"].nunique()
                ax.set_title(f"{SET_TITLES[name]}\n(mean, band = min–max over {n_dir} directions)",
                             fontsize=10)
        axes[-1][col].set_xlabel("perturbation scale t (dimensionless)")
    fig.suptitle("Synthetic RBF regression: adversarial vs knowledge transferability" + title_suffix)
    fig.tight_layout(rect=(0, 0, 1, 0.985))  # keep the suptitle clear of the column titles
    return fig
