"""Knowledge-transfer affinity: measured (tournament over test losses) or Taskonomy's pickle."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

import pandas as pd  # noqa: E402

from advtransfer import io, taskgraph, taskonomy, tasktables  # noqa: E402

smk = snakemake  # noqa: F821
log = io.setup_logging(smk.log[0])
tasks = list(smk.params.tasks)
if "losses" in smk.input.keys():  # noqa: SIM118 - Namedlist `in` tests values
    losses = pd.concat([pd.read_csv(p, sep="\t") for p in smk.input.losses], ignore_index=True)
    matrix = tasktables.matrix_from_losses(losses, tasks, higher_is_more_transferable=False,
                                           self_transfer=smk.params.self_transfer)
    log.info("affinity from measured test losses of %d (source, target) heads", len(tasks) ** 2)
else:
    matrix = taskonomy.load_affinity_pickle(smk.input.pickle, tasks=tasks)
    log.info("affinity slice of %s (Taskonomy's AHP-normalised values)", smk.input.pickle)
    if smk.params.self_transfer == "exclude":
        matrix = taskgraph.exclude_self_transfer(matrix)
log.info("affinity, self-transfer %s (rows = targets, columns = sources):\n%s",
         smk.params.self_transfer, matrix.round(3).to_string())
table = matrix.reset_index()
table.columns.name = None
io.write_tsv(smk.output.affinity, table)
