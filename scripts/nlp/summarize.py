"""Merge per-source rows into transfer.tsv and rank-correlate adversarial vs knowledge measures."""

import pandas as pd

from advtransfer import io
from advtransfer.core import stats
from advtransfer.jobs import start_job
from advtransfer.nlp import measures

smk, log = start_job(snakemake)  # noqa: F821
adv = pd.concat([pd.read_csv(p, sep="\t") for p in smk.input.adversarial], ignore_index=True)
probe = pd.concat([pd.read_csv(p, sep="\t") for p in smk.input.probe], ignore_index=True)
info = pd.DataFrame.from_dict(smk.params.sources, orient="index").rename_axis("model")
table = info.reset_index().merge(adv, on="model", validate="one_to_one").merge(
    probe, on="model", validate="one_to_one")
io.write_tsv(smk.output.transfer, table)
settings = {"group_col": "dataset", **{k: v for k, v in stats.inference_settings(
    smk.params.correlation).items() if v is not None}}
corr = stats.correlation_table(
    table, list(measures.ADVERSARIAL_MEASURES),
    [c for c in measures.KNOWLEDGE_MEASURES if c in table], **settings,
)
io.write_tsv(smk.output.correlation, corr)
log.info("sources:\n%s", table[["model", "cross_adv_loss", "flip_rate", "tau1", "tau2",
                                "probe_accuracy", "kshot_accuracy"]])
log.info("correlations (bootstrap over source data sets):\n%s",
         corr[["adversarial_measure", "knowledge_measure", "spearman", "kendall"]])
