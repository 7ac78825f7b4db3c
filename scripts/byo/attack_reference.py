"""PGD (L-inf) images of the byo reference on target validation images."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

import torch  # noqa: E402

from advtransfer import attacks, imagesets, io, model_zoo, training  # noqa: E402

smk = snakemake  # noqa: F821
log = io.setup_logging(smk.log[0])
torch.set_num_threads(smk.threads)
cfg = smk.params.attack
device = training.pick_device("auto")
model = model_zoo.load_source(smk.params.spec).to(device)
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
