"""Merge the sweep tables, draw paper Figure 2 and write its data-driven caption."""

from pathlib import Path

import pandas as pd

from advtransfer import io
from advtransfer.jobs import start_job
from advtransfer.synthetic import caption, plots

smk, log = start_job(snakemake)  # noqa: F821
table = pd.concat([pd.read_csv(p, sep="\t") for p in smk.input.tables], ignore_index=True)
for bound, true in (("thm2_bound", "grad_diff"), ("thm3_bound", "g_transferred_loss")):
    holds = bool((table[bound] >= table[true]).all())
    log.info("%s >= %s on every row: %s", bound, true, holds)
io.write_tsv(smk.output.table, table)
fig = plots.figure2(table)
io.save_figure(fig, smk.output.png, "png", dpi=130)
io.save_figure(fig, smk.output.svg, "svg")
text = caption.figure2_caption(table, head=Path(smk.input.caption_head).read_text())
log.info("Figure 2 caption:\n%s", text)
with io.atomic_path(smk.output.caption) as tmp:
    Path(tmp).write_text(text)
