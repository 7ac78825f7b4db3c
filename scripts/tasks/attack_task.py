"""Attack one source task (label-free PGD, its own loss) and score the examples on every task."""

from pathlib import Path

from advtransfer import io
from advtransfer.core.modelutils import pick_device
from advtransfer.jobs import start_job
from advtransfer.tasks import models

smk, log = start_job(snakemake)  # noqa: F821
cfg = smk.params.attack
device = pick_device("auto")
data = models.load_task_data(smk.input.data)
pool = data.splits["test"] if "test" in data.splits else data.splits["attack"]
ids = models.seeded_subset(pool, cfg["n_images"], cfg["seed"])
source, spec, _ = models.load_task_model(smk.input.source)
targets = {
    Path(p).stem: (lambda p=p: models.load_task_model(p)[:2]) for p in smk.input.targets
}
log.info("attacking %s (%s loss) on %d images, eps %s, %d steps; %d targets, device %s",
         spec.name, spec.loss, len(ids), cfg["eps"], cfg["steps"], len(targets), device)
table = models.cross_task_losses(
    source, spec, data.x[ids], ids, targets, eps_values=cfg["eps"], steps=cfg["steps"],
    step_size=cfg["step_size"], seed=cfg["seed"], batch_size=cfg["batch_size"], device=device,
)
io.write_tsv(smk.output.losses, table)
