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
# cluster bootstrap and permutation test over source data sets (seeds are replicates)
settings = {"group_col": "dataset", **{k: v for k, v in stats.inference_settings(
    smk.params.correlation).items() if v is not None}}
corr = stats.correlation_table(table, list(measures.ADVERSARIAL_MEASURES), knowledge, **settings)
io.write_tsv(smk.output.correlation, corr)
log.info("correlations (cluster bootstrap and permutation test over source data sets):\n%s",
         corr[["adversarial_measure", "knowledge_measure", "primary", "duplicate_of", "spearman",
               "spearman_lo", "spearman_hi", "spearman_lo_full", "spearman_hi_full",
               "spearman_p", "p_holm"]].to_string())
