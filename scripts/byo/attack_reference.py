"""PGD (L-inf) images of the byo reference on target validation images."""

from advtransfer import io
from advtransfer.images import sources
from advtransfer.core import attacks
from advtransfer.core.modelutils import pick_device
from advtransfer.images import imagesets
from advtransfer.jobs import start_job

smk, log = start_job(snakemake)  # noqa: F821
cfg = smk.params.attack
device = pick_device("auto")
model = sources.load_source(smk.params.spec).to(device)
x, y = imagesets.load_split(smk.input.data, "val")  # never the test split
idx = imagesets.attack_subset(len(y), cfg["n_images"], cfg["seed"])
x, y = x[idx], y[idx]
x_adv = attacks.pgd_attack(
    model, x.to(device), eps=cfg["eps"], steps=cfg["steps"], step_size=cfg["step_size"],
    loss=cfg["loss"], y=y.to(device), seed=cfg["seed"], batch_size=cfg["batch_size"],
).cpu()
log.info("reference: %d validation images, eps %.3g, %d steps, loss %s", len(y), cfg["eps"],
         cfg["steps"], cfg["loss"])
io.save_tensors(smk.output.adv, {"x_adv": x_adv, "index": idx},
                meta={"attack": cfg, "model": "reference", "split": "val"})
