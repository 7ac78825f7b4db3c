"""Adversarial transferability matrix: tournament -> M / M^T -> Perron vector per target."""

import pandas as pd

from advtransfer import io
from advtransfer.jobs import start_job
from advtransfer.tasks import tables

smk, log = start_job(snakemake)  # noqa: F821
tasks = list(smk.params.tasks)
losses = pd.concat([pd.read_csv(p, sep="\t") for p in smk.input.losses], ignore_index=True)
table = tables.atm_table(losses, tasks, smk.params.self_transfer)
for eps, matrix in tables.split_matrix_table(table).items():
    log.info("ATM at eps %g, self-transfer %s (rows = targets, columns = sources):\n%s", eps,
             smk.params.self_transfer,
             matrix.round(3).to_string())
io.write_tsv(smk.output.atm, table)
