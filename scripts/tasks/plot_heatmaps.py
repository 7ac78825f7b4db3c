"""Clustered heatmaps of each ATM and of the affinity, ordered by the task trees of Figure 4."""

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
if len(matrices) != len(smk.output.heatmaps):
    raise ValueError(f"{smk.input.atm} holds {len(atms)} attack radii but the config lists "
                     f"{len(smk.output.heatmaps) - 1}; re-run build_atm")
for (title, matrix, unit), png, svg in zip(matrices, smk.output.heatmaps, smk.output.svgs):
    z = tables.tree_of(matrix, tree["method"], tree["normalise_columns"])
    fig = plots.clustered_heatmap(matrix, z, categories, value_label=unit,
                                  title=f"{smk.params.dataset}: {title}")
    with io.atomic_path(png) as tmp:
        fig.savefig(tmp, dpi=120, format="png", bbox_inches="tight")
    with io.atomic_path(svg) as tmp:
        fig.savefig(tmp, format="svg", bbox_inches="tight")
    log.info("%s -> %s", title, png)
