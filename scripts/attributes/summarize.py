"""transfer.tsv, rank correlations and Table 1 of the attributes scenario."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

import pandas as pd  # noqa: E402

from advtransfer import attributes, io, stats  # noqa: E402

smk = snakemake  # noqa: F821
log = io.setup_logging(smk.log[0])
benchmarks = smk.params.benchmarks
adv = pd.concat([pd.read_csv(p, sep="\t") for p in smk.input.adversarial], ignore_index=True)
rec = pd.concat([pd.read_csv(p, sep="\t") for p in smk.input.recognition], ignore_index=True)
sources = pd.DataFrame([{"model": model, "attribute": entry["label"], "seed": entry["seed"]}
                        for model, entry in smk.params.sources.items()])
table = attributes.transfer_table(sources, adv, rec)
io.write_tsv(smk.output.transfer, table)
corr = stats.correlation_table(
    table, list(attributes.ADVERSARIAL_MEASURES), attributes.recognition_columns(benchmarks),
    group_col="attribute", n_boot=smk.params.correlation["n_boot"],
    seed=smk.params.correlation["seed"],
)
io.write_tsv(smk.output.correlation, corr)
reference = pd.read_csv(smk.input.reference, sep="\t").iloc[0].to_dict()
top = attributes.table1(table, benchmarks, top=smk.params.top, reference=reference)
io.write_tsv(smk.output.table1, top)
log.info("Table 1:\n%s", top.to_string(index=False))
columns = ["adversarial_measure", "knowledge_measure", "spearman", "spearman_lo", "spearman_hi"]
log.info("correlations (bootstrap over attributes):\n%s", corr[columns])
