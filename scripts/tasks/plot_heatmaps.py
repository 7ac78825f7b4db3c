"""Clustered heatmaps of each ATM, the affinity and tau1 / tau2, ordered by their task trees."""

import pandas as pd

from advtransfer import io
from advtransfer.jobs import start_job
from advtransfer.tasks import plots, tables

smk, log = start_job(snakemake)  # noqa: F821
tree, categories = smk.params.tree, smk.params.categories
atms = tables.split_matrix_table(pd.read_csv(smk.input.atm, sep="\t"))
affinity = tables.split_matrix_table(pd.read_csv(smk.input.affinity, sep="\t"))[None]
matrices = [(f"adversarial transferability matrix, PGD L∞ eps = {eps:g}", m,
             "transferability (principal-eigenvector score, dimensionless)")
            for eps, m in sorted(atms.items())]
matrices.append(("knowledge-transfer affinity", affinity,
                 "affinity (principal-eigenvector score, dimensionless)"))
taus = tables.split_tau_table(pd.read_csv(smk.input.tau, sep="\t"))
matrices += [(f"first-order task matrix, {name} (diagonal: row maximum)", taus[name],
              f"{name} (dimensionless, in [0, 1])") for name in ("tau1", "tau2")]
if len(matrices) != len(smk.output.heatmaps):
    raise ValueError(f"{smk.input.atm} holds {len(atms)} attack radii but the config lists "
                     f"{len(smk.output.heatmaps) - 3}; re-run build_atm")
for (title, matrix, unit), png, svg in zip(matrices, smk.output.heatmaps, smk.output.svgs):
    z = tables.tree_of(matrix, tree["method"], tree["normalise_columns"])
    fig = plots.clustered_heatmap(matrix, z, categories, value_label=unit,
                                  title=f"{smk.params.dataset}: {title}")
    io.save_figure(fig, png, "png", dpi=120, bbox_inches="tight")
    io.save_figure(fig, svg, "svg", bbox_inches="tight")
    log.info("%s -> %s", title, png)
