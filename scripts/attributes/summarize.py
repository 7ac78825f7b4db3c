"""transfer.tsv, rank correlations and Table 1 of the attributes scenario."""

import pandas as pd

from advtransfer import io
from advtransfer.attributes import experiment
from advtransfer.core import stats
from advtransfer.jobs import start_job

smk, log = start_job(snakemake)  # noqa: F821
benchmarks = smk.params.benchmarks
adv = pd.concat([pd.read_csv(p, sep="\t") for p in smk.input.adversarial], ignore_index=True)
rec = pd.concat([pd.read_csv(p, sep="\t") for p in smk.input.recognition], ignore_index=True)
sources = pd.DataFrame([{"model": model, "attribute": entry["label"], "seed": entry["seed"]}
                        for model, entry in smk.params.sources.items()])
table = experiment.transfer_table(sources, adv, rec)
io.write_tsv(smk.output.transfer, table)
settings = {"group_col": "attribute", **{k: v for k, v in stats.inference_settings(
    smk.params.correlation).items() if v is not None}}
corr = stats.correlation_table(
    table, list(experiment.ADVERSARIAL_MEASURES), experiment.recognition_columns(benchmarks),
    **settings,
)
io.write_tsv(smk.output.correlation, corr)
reference = pd.read_csv(smk.input.reference, sep="\t").iloc[0].to_dict()
top = experiment.table1(table, benchmarks, top=smk.params.top, reference=reference)
io.write_tsv(smk.output.table1, top)
log.info("Table 1:\n%s", top.to_string(index=False))
columns = ["adversarial_measure", "knowledge_measure", "primary", "duplicate_of", "spearman",
           "spearman_lo", "spearman_hi", "spearman_p", "p_holm"]
log.info("correlations (bootstrap over attributes):\n%s", corr[columns])
