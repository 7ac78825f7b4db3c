"""PGD (L-inf) adversarial images of one model on the target's attack images."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

import torch  # noqa: E402

from advtransfer import architectures, attacks, imagesets, io, training  # noqa: E402

smk = snakemake  # noqa: F821
log = io.setup_logging(smk.log[0])
torch.set_num_threads(smk.threads)
cfg = smk.params.attack
device = training.pick_device("auto")
model, _ = architectures.load_model(smk.input.model)
model = model.to(device)
x, y = imagesets.load_split(smk.input.data, "test")
idx = imagesets.attack_subset(len(y), cfg["n_images"], cfg["seed"])
x, y = x[idx], y[idx]
x_adv = attacks.pgd_attack(
    model, x.to(device), eps=cfg["eps"], steps=cfg["steps"], step_size=cfg["step_size"],
    loss=cfg["loss"], y=y.to(device), seed=cfg["seed"], batch_size=cfg["batch_size"],
).cpu()
# the flip rate needs no labels; the model's classes may differ from the target's
stats = attacks.adversarial_losses(model.cpu(), x, x_adv, torch.zeros_like(y))
log.info("%s: %d images, eps %.3g, %d steps; own prediction flip rate %.3f",
         smk.wildcards.model, len(y), cfg["eps"], cfg["steps"], float(stats["flip"].mean()))
io.save_tensors(smk.output.adv, {"x_adv": x_adv, "index": idx},
                meta={"attack": cfg, "model": smk.wildcards.model})
