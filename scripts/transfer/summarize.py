"""Merge per-source rows into transfer.tsv and rank-correlate adversarial vs knowledge measures."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

import pandas as pd  # noqa: E402

from advtransfer import io, stats, transfer  # noqa: E402

smk = snakemake  # noqa: F821
log = io.setup_logging(smk.log[0])
adv = pd.concat([pd.read_csv(p, sep="\t") for p in smk.input.adversarial], ignore_index=True)
probe = pd.concat([pd.read_csv(p, sep="\t") for p in smk.input.probe], ignore_index=True)
info = pd.DataFrame.from_dict(smk.params.sources, orient="index").rename_axis("model").reset_index()
table = info.merge(adv, on="model", validate="one_to_one").merge(probe, on="model", validate="one_to_one")
io.write_tsv(smk.output.transfer, table)
knowledge = [c for c in transfer.KNOWLEDGE_MEASURES if c in table]
corr_cfg = smk.params.cfg["correlation"]
corr = stats.correlation_table(
    table, list(transfer.ADVERSARIAL_MEASURES), knowledge, group_col="dataset",
    n_boot=corr_cfg["n_boot"], seed=corr_cfg["seed"],
)
io.write_tsv(smk.output.correlation, corr)
log.info("correlations (bootstrap over source data sets):\n%s",
         corr[["adversarial_measure", "knowledge_measure", "spearman", "spearman_lo", "spearman_hi"]])
