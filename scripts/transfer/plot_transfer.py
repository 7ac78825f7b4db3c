"""Figure 3 (adversarial loss beside transfer accuracy) and the measure scatter."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

import pandas as pd  # noqa: E402

from advtransfer import io, plots, transfer  # noqa: E402

smk = snakemake  # noqa: F821
log = io.setup_logging(smk.log[0])
table = pd.read_csv(smk.input.transfer, sep="\t")
corr = pd.read_csv(smk.input.correlation, sep="\t")
scenario = smk.wildcards.scenario
attack = smk.params.cfg["attack"]
setting = f"PGD L∞ eps = {attack['eps']}, {attack['steps']} steps"
bars = plots.transfer_bars(table, title=f"{scenario}: adversarial vs knowledge transfer ({setting})")
scatter = plots.transfer_scatter(
    table, corr, knowledge="probe_accuracy", measures=transfer.ADVERSARIAL_MEASURES,
    title=f"{scenario}: adversarial measures vs transfer accuracy ({setting})",
)
for fig, png, svg in ((bars, smk.output.figure3, smk.output.figure3_svg),
                      (scatter, smk.output.scatter, smk.output.scatter_svg)):
    with io.atomic_path(png) as tmp:
        fig.savefig(tmp, dpi=130, format="png")
    with io.atomic_path(svg) as tmp:
        fig.savefig(tmp, format="svg")
log.info("figures written for %d sources", len(table))
