"""Rendered Table 1 and the scatter of adversarial transferability vs verification accuracy."""

import pandas as pd

from advtransfer import io
from advtransfer.attributes import plots
from advtransfer.jobs import start_job

smk, log = start_job(snakemake)  # noqa: F821
table = pd.read_csv(smk.input.transfer, sep="\t")
corr = pd.read_csv(smk.input.correlation, sep="\t")
top = pd.read_csv(smk.input.table1, sep="\t")
attack = smk.params.attack
setting = f"{smk.params.dataset}, PGD L∞ eps = {attack['eps']}, {attack['steps']} steps"
figures = {
    "table1": plots.table1_figure(top, smk.params.benchmarks,
                                            title=f"Table 1 ({setting})"),
    "scatter": plots.transfer_scatter(table, corr, title=f"Attributes ({setting})"),
}
for name, fig in figures.items():
    io.save_figure(fig, getattr(smk.output, name), "png", dpi=130, bbox_inches="tight")
    io.save_figure(fig, getattr(smk.output, f"{name}_svg"), "svg", bbox_inches="tight")
log.info("Table 1 and scatter written for %d attribute models", len(table))
