"""Knowledge transfer of one frozen source encoder: a new head per target task, test losses."""

from advtransfer import io
from advtransfer.core.modelutils import pick_device
from advtransfer.jobs import start_job
from advtransfer.tasks import models

smk, log = start_job(snakemake)  # noqa: F821
cfg = smk.params.knowledge
device = pick_device("auto")
data = models.load_task_data(smk.input.data)
source, spec, _ = models.load_task_model(smk.input.source)
specs = {t["name"]: models.TaskSpec(**t) for t in data.meta["tasks"]}
targets = [specs[name] for name in smk.params.tasks]
train = models.seeded_subset(data.splits["train"], cfg["n_train"], cfg["seed"])
test = models.seeded_subset(data.splits["test"], cfg["n_test"], cfg["seed"] + 1)
log.info("encoder of %s -> %d targets: %d train / %d test canvases", spec.name, len(targets),
         len(train), len(test))
table = models.encoder_transfer_losses(
    source, spec, data, targets, train, test, ridge=cfg["ridge"], C=cfg["C"], device=device,
)
io.write_tsv(smk.output.losses, table)
