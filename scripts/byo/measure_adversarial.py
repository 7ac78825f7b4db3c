"""Attack one candidate (PGD on target validation images) and measure its adversarial
transferability to the byo reference (one TSV row)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

import pandas as pd  # noqa: E402
import torch  # noqa: E402

from advtransfer import (  # noqa: E402
    architectures, attacks, imagesets, io, model_zoo, training, transfer,
)

smk = snakemake  # noqa: F821
log = io.setup_logging(smk.log[0])
torch.set_num_threads(smk.threads)
cfg = smk.params.attack
device = training.pick_device("auto")
source = model_zoo.load_source(smk.params.spec).to(device)
reference, _ = architectures.load_model(smk.input.reference)
adv_r = io.load_tensors(smk.input.adv_reference)
x, y = imagesets.load_split(smk.input.data, "val")  # never the test split
idx = imagesets.attack_subset(len(y), cfg["n_images"], cfg["seed"])
if not torch.equal(idx, adv_r["index"]):
    raise ValueError(f"{smk.input.adv_reference} attacks other images than these settings "
                     "select; delete it and re-run")
x, y = x[idx].to(device), y[idx].to(device)
loss = model_zoo.attack_loss(source, cfg["loss"])  # candidates without head: output deviation
x_adv = attacks.pgd_attack(
    source, x, eps=cfg["eps"], steps=cfg["steps"], step_size=cfg["step_size"], loss=loss,
    y=y, seed=cfg["seed"], batch_size=cfg["batch_size"],
)
log.info("%s: %d validation images, eps %.3g, %d steps, loss %s", smk.wildcards.model, len(y),
         cfg["eps"], cfg["steps"], loss)
row = transfer.adversarial_measures(
    source, reference.to(device), x, y, x_adv, adv_r["x_adv"].to(device),
    jacobian_points=smk.params.jacobian_points, batch_size=cfg["batch_size"],
)
log.info("%s -> reference: %s", smk.wildcards.model, row)
io.write_tsv(smk.output.row, pd.DataFrame([{"model": smk.wildcards.model, "attack_loss": loss,
                                            **row}]))
