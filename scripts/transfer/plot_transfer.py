"""Figure 3 (adversarial loss beside transfer accuracy) and the measure scatter."""

import pandas as pd

from advtransfer import io, plots
from advtransfer.images import measures
from advtransfer.jobs import start_job

smk, log = start_job(snakemake)  # noqa: F821
table = pd.read_csv(smk.input.transfer, sep="\t")
corr = pd.read_csv(smk.input.correlation, sep="\t")
scenario = smk.wildcards.scenario
attack = smk.params.attack
setting = f"PGD L∞ eps = {attack['eps']}, {attack['steps']} steps"
bars = plots.transfer_bars(table, title=f"{scenario}: adversarial vs knowledge transfer ({setting})")
scatter = plots.transfer_scatter(
    table, corr, knowledge="probe_accuracy", measures=measures.ADVERSARIAL_MEASURES,
    title=f"{scenario}: adversarial measures vs transfer accuracy ({setting})",
)
for fig, png, svg in ((bars, smk.output.figure3, smk.output.figure3_svg),
                      (scatter, smk.output.scatter, smk.output.scatter_svg)):
    io.save_figure(fig, png, "png", dpi=130)
    io.save_figure(fig, svg, "svg")
log.info("figures written for %d sources", len(table))
