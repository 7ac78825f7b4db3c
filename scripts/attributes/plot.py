"""Rendered Table 1 and the scatter of adversarial transferability vs verification accuracy."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

import pandas as pd  # noqa: E402

from advtransfer import attribute_plots, io  # noqa: E402

smk = snakemake  # noqa: F821
log = io.setup_logging(smk.log[0])
table = pd.read_csv(smk.input.transfer, sep="\t")
corr = pd.read_csv(smk.input.correlation, sep="\t")
top = pd.read_csv(smk.input.table1, sep="\t")
attack = smk.params.attack
setting = f"{smk.params.dataset}, PGD L∞ eps = {attack['eps']}, {attack['steps']} steps"
figures = {
    "table1": attribute_plots.table1_figure(top, smk.params.benchmarks,
                                            title=f"Table 1 ({setting})"),
    "scatter": attribute_plots.transfer_scatter(table, corr, title=f"Attributes ({setting})"),
}
for name, fig in figures.items():
    with io.atomic_path(getattr(smk.output, name)) as tmp:
        fig.savefig(tmp, dpi=130, format="png", bbox_inches="tight")
    with io.atomic_path(getattr(smk.output, f"{name}_svg")) as tmp:
        fig.savefig(tmp, format="svg", bbox_inches="tight")
log.info("Table 1 and scatter written for %d attribute models", len(table))
