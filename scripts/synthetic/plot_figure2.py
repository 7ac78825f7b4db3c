"""Merge the sweep tables and draw paper Figure 2."""

import pandas as pd

from advtransfer import io
from advtransfer.jobs import start_job
from advtransfer.synthetic import plots

smk, log = start_job(snakemake)  # noqa: F821
table = pd.concat([pd.read_csv(p, sep="\t") for p in smk.input.tables], ignore_index=True)
for bound, true in (("thm2_bound", "grad_diff"), ("thm3_bound", "g_transferred_loss")):
    holds = bool((table[bound] >= table[true]).all())
    log.info("%s >= %s on every row: %s", bound, true, holds)
io.write_tsv(smk.output.table, table)
fig = plots.figure2(table)
with io.atomic_path(smk.output.png) as tmp:
    fig.savefig(tmp, dpi=130, format="png")
with io.atomic_path(smk.output.svg) as tmp:
    fig.savefig(tmp, format="svg")
