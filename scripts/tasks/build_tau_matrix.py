"""Task matrix by first-order transferability: tau1 / tau2 between every pair of task models."""

from pathlib import Path

from advtransfer import io
from advtransfer.core.modelutils import pick_device
from advtransfer.jobs import start_job
from advtransfer.tasks import models, tables, taumatrix

smk, log = start_job(snakemake)  # noqa: F821
cfg, tasks = smk.params.tau, list(smk.params.tasks)
device = pick_device("auto")
data = models.load_task_data(smk.input.data)
pool = data.splits["test"] if "test" in data.splits else data.splits["attack"]
ids = models.seeded_subset(pool, cfg["points"], cfg["seed"])
loaded = {}
for path in smk.input.models:
    model, spec, _ = models.load_task_model(path, map_location=device)
    loaded[Path(path).stem] = (model, spec.loss)
log.info("tau task matrix: %d tasks on %d images, block %d, tol %g, device %s", len(tasks),
         len(ids), cfg["block"], cfg["tol"], device)
table = taumatrix.tau_matrix_table(
    loaded, data.x[ids].to(device), tasks=tasks, block=cfg["block"], tol=cfg["tol"],
    max_iters=cfg["max_iters"], batch_size=cfg["batch_size"], seed=cfg["seed"],
)
for measure, matrix in tables.split_matrix_table(table, by="measure").items():
    log.info("%s (rows = targets, columns = sources):\n%s", measure, matrix.round(3).to_string())
io.write_tsv(smk.output.tau, table)
