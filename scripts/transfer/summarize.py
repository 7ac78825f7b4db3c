"""Merge per-source rows into measures.tsv and rank-correlate adversarial vs knowledge measures."""

import pandas as pd

from advtransfer import io
from advtransfer.core import stats
from advtransfer.images import measures
from advtransfer.jobs import start_job

smk, log = start_job(snakemake)  # noqa: F821
adv = pd.concat([pd.read_csv(p, sep="\t") for p in smk.input.adversarial], ignore_index=True)
probe = pd.concat([pd.read_csv(p, sep="\t") for p in smk.input.probe], ignore_index=True)
info = pd.DataFrame.from_dict(smk.params.sources, orient="index").rename_axis("model").reset_index()
table = info.merge(adv, on="model", validate="one_to_one").merge(probe, on="model", validate="one_to_one")
io.write_tsv(smk.output.transfer, table)
knowledge = [c for c in measures.KNOWLEDGE_MEASURES if c in table]
corr_cfg = smk.params.cfg["correlation"]
corr = stats.correlation_table(
    table, list(measures.ADVERSARIAL_MEASURES), knowledge, group_col="dataset",
    n_boot=corr_cfg["n_boot"], seed=corr_cfg["seed"],
)
io.write_tsv(smk.output.correlation, corr)
log.info("correlations (bootstrap over source data sets):\n%s",
         corr[["adversarial_measure", "knowledge_measure", "spearman", "spearman_lo", "spearman_hi"]])
