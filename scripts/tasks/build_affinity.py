"""Knowledge-transfer affinity: measured (tournament over test losses) or Taskonomy's pickle."""

import pandas as pd

from advtransfer import io
from advtransfer.jobs import start_job
from advtransfer.tasks import graph, tables, taskonomy

smk, log = start_job(snakemake)  # noqa: F821
tasks = list(smk.params.tasks)
if "losses" in smk.input.keys():  # noqa: SIM118 - Namedlist `in` tests values
    losses = pd.concat([pd.read_csv(p, sep="\t") for p in smk.input.losses], ignore_index=True)
    matrix = tables.matrix_from_losses(losses, tasks, higher_is_more_transferable=False,
                                           self_transfer=smk.params.self_transfer)
    log.info("affinity from measured test losses of %d (source, target) heads", len(tasks) ** 2)
else:
    matrix = taskonomy.load_affinity_pickle(smk.input.pickle, tasks=tasks)
    log.info("affinity slice of %s (Taskonomy's AHP-normalised values)", smk.input.pickle)
    if smk.params.self_transfer == "exclude":
        matrix = graph.exclude_self_transfer(matrix)
log.info("affinity, self-transfer %s (rows = targets, columns = sources):\n%s",
         smk.params.self_transfer, matrix.round(3).to_string())
table = matrix.reset_index()
table.columns.name = None
io.write_tsv(smk.output.affinity, table)
