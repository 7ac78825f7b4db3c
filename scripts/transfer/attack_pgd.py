"""PGD (L-inf) adversarial images of one model on the target's attack images."""

import torch

from advtransfer import io
from advtransfer.core import attacks
from advtransfer.core.modelutils import pick_device
from advtransfer.images import architectures, imagesets
from advtransfer.jobs import start_job

smk, log = start_job(snakemake)  # noqa: F821
cfg = smk.params.attack
device = pick_device("auto")
model, _ = architectures.load_model(smk.input.model)
model = model.to(device)
x, y = imagesets.load_split(smk.input.data, "test")
idx = imagesets.attack_subset(len(y), cfg["n_images"], cfg["seed"])
x, y = x[idx], y[idx]
log.info("PGD on %d images (eps %.3g, %d steps, batches of %d), device %s", len(y), cfg["eps"],
         cfg["steps"], cfg["batch_size"], device)
x_adv = attacks.pgd_attack(
    model, x.to(device), eps=cfg["eps"], steps=cfg["steps"], step_size=cfg["step_size"],
    loss=cfg["loss"], y=y.to(device), seed=cfg["seed"], batch_size=cfg["batch_size"],
    progress=lambda done, total: log.info("PGD: %d / %d images attacked", done, total),
).cpu()
# the flip rate needs no labels; the model's classes may differ from the target's
stats = attacks.adversarial_losses(model.cpu(), x, x_adv, torch.zeros_like(y))
log.info("%s: %d images, eps %.3g, %d steps; own prediction flip rate %.3f",
         smk.wildcards.model, len(y), cfg["eps"], cfg["steps"], float(stats["flip"].mean()))
io.save_tensors(smk.output.adv, {"x_adv": x_adv, "index": idx},
                meta={"attack": cfg, "model": smk.wildcards.model})
