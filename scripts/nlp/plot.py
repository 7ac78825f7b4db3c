"""Figure 3 (text): adversarial loss beside transfer accuracy, and the measure scatter."""

import pandas as pd

from advtransfer import io, plots
from advtransfer.jobs import start_job
from advtransfer.nlp import measures

smk, log = start_job(snakemake)  # noqa: F821
table = pd.read_csv(smk.input.transfer, sep="\t")
corr = pd.read_csv(smk.input.correlation, sep="\t")
attack = smk.params.attack
setting = f"TextFooler-style, ≤ {attack['max_change_rate']:.0%} of words"
bars = plots.transfer_bars(table, title=f"nlp: adversarial vs knowledge transfer ({setting})")
scatter = plots.transfer_scatter(
    table, corr, knowledge="probe_accuracy", measures=measures.ADVERSARIAL_MEASURES,
    title=f"nlp: adversarial measures vs transfer accuracy ({setting})",
)
for fig, png, svg in ((bars, smk.output.figure3, smk.output.figure3_svg),
                      (scatter, smk.output.scatter, smk.output.scatter_svg)):
    measures.relabel_for_text(fig)
    io.save_figure(fig, png, "png", dpi=130)
    io.save_figure(fig, svg, "svg")
log.info("figures written for %d sources", len(table))
