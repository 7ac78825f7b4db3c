"""Merge the sweep tables and draw paper Figure 2."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

import pandas as pd  # noqa: E402

from advtransfer import io, plots  # noqa: E402

smk = snakemake  # noqa: F821
log = io.setup_logging(smk.log[0])
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
