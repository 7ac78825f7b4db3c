"""Knowledge transfer of one frozen source encoder: a new head per target task, test losses."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

import torch  # noqa: E402

from advtransfer import io, multitask, training  # noqa: E402

smk = snakemake  # noqa: F821
log = io.setup_logging(smk.log[0])
torch.set_num_threads(smk.threads)
cfg = smk.params.knowledge
device = training.pick_device("auto")
data = multitask.load_task_data(smk.input.data)
source, spec, _ = multitask.load_task_model(smk.input.source)
specs = {t["name"]: multitask.TaskSpec(**t) for t in data.meta["tasks"]}
targets = [specs[name] for name in smk.params.tasks]
train = multitask.seeded_subset(data.splits["train"], cfg["n_train"], cfg["seed"])
test = multitask.seeded_subset(data.splits["test"], cfg["n_test"], cfg["seed"] + 1)
log.info("encoder of %s -> %d targets: %d train / %d test canvases", spec.name, len(targets),
         len(train), len(test))
table = multitask.encoder_transfer_losses(
    source, spec, data, targets, train, test, ridge=cfg["ridge"], C=cfg["C"], device=device,
)
io.write_tsv(smk.output.losses, table)
