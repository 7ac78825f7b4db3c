"""Adversarial transferability matrix: tournament -> M / M^T -> Perron vector per target."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

import pandas as pd  # noqa: E402

from advtransfer import io, tasktables  # noqa: E402

smk = snakemake  # noqa: F821
log = io.setup_logging(smk.log[0])
tasks = list(smk.params.tasks)
losses = pd.concat([pd.read_csv(p, sep="\t") for p in smk.input.losses], ignore_index=True)
table = tasktables.atm_table(losses, tasks, smk.params.self_transfer)
for eps, matrix in tasktables.split_matrix_table(table).items():
    log.info("ATM at eps %g, self-transfer %s (rows = targets, columns = sources):\n%s", eps,
             smk.params.self_transfer,
             matrix.round(3).to_string())
io.write_tsv(smk.output.atm, table)
