"""Join the zoo's per-source and per-target tables: one row per (source, target task)."""

import pandas as pd

from advtransfer import io
from advtransfer.jobs import start_job
from advtransfer.zoo.tables import join_tables

smk, log = start_job(snakemake)  # noqa: F821
read = lambda paths: [pd.read_csv(p, sep="\t") for p in paths]  # noqa: E731
table = join_tables(
    sources=smk.params.sources, targets=smk.params.targets,
    adversarial=read(smk.input.adversarial), probes=read(smk.input.probes),
    estimators=read(smk.input.estimators),
)
log.info("%d sources x %d targets; probe accuracy by target:\n%s", table["model"].nunique(),
         table["target"].nunique(),
         table.groupby("target")["probe_accuracy"].describe().to_string())
io.write_tsv(smk.output.transfer, table)
