"""Attack one source task (label-free PGD, its own loss) and score the examples on every task."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

import torch  # noqa: E402

from advtransfer import io, multitask, training  # noqa: E402

smk = snakemake  # noqa: F821
log = io.setup_logging(smk.log[0])
torch.set_num_threads(smk.threads)
cfg = smk.params.attack
device = training.pick_device("auto")
data = multitask.load_task_data(smk.input.data)
pool = data.splits["test"] if "test" in data.splits else data.splits["attack"]
ids = multitask.seeded_subset(pool, cfg["n_images"], cfg["seed"])
source, spec, _ = multitask.load_task_model(smk.input.source)
targets = {
    Path(p).stem: (lambda p=p: multitask.load_task_model(p)[:2]) for p in smk.input.targets
}
log.info("attacking %s (%s loss) on %d images, eps %s, %d steps; %d targets, device %s",
         spec.name, spec.loss, len(ids), cfg["eps"], cfg["steps"], len(targets), device)
table = multitask.cross_task_losses(
    source, spec, data.x[ids], ids, targets, eps_values=cfg["eps"], steps=cfg["steps"],
    step_size=cfg["step_size"], seed=cfg["seed"], batch_size=cfg["batch_size"], device=device,
)
io.write_tsv(smk.output.losses, table)
