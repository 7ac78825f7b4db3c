"""Attack one candidate (PGD on target validation images) and measure its adversarial
transferability to the byo reference (one TSV row)."""

import pandas as pd
import torch

from advtransfer import io
from advtransfer.images import sources
from advtransfer.core import attacks
from advtransfer.core.modelutils import pick_device
from advtransfer.images import architectures, imagesets, measures
from advtransfer.jobs import start_job

smk, log = start_job(snakemake)  # noqa: F821
cfg = smk.params.attack
device = pick_device("auto")
source = sources.load_source(smk.params.spec).to(device)
reference, _ = architectures.load_model(smk.input.reference)
adv_r = io.load_tensors(smk.input.adv_reference)
x, y = imagesets.load_split(smk.input.data, "val")  # never the test split
idx = imagesets.attack_subset(len(y), cfg["n_images"], cfg["seed"])
if not torch.equal(idx, adv_r["index"]):
    raise ValueError(f"{smk.input.adv_reference} attacks other images than these settings "
                     "select; delete it and re-run")
x, y = x[idx].to(device), y[idx].to(device)
loss = sources.attack_loss(source, cfg["loss"])  # candidates without head: output deviation
x_adv = attacks.pgd_attack(
    source, x, eps=cfg["eps"], steps=cfg["steps"], step_size=cfg["step_size"], loss=loss,
    y=y, seed=cfg["seed"], batch_size=cfg["batch_size"],
)
log.info("%s: %d validation images, eps %.3g, %d steps, loss %s", smk.wildcards.model, len(y),
         cfg["eps"], cfg["steps"], loss)
row = measures.adversarial_measures(
    source, reference.to(device), x, y, x_adv, adv_r["x_adv"].to(device),
    jacobian_points=smk.params.jacobian_points, batch_size=cfg["batch_size"],
    jacobian_output=smk.params.jacobian_output,
)
log.info("%s -> reference: %s", smk.wildcards.model, row)
io.write_tsv(smk.output.row, pd.DataFrame([{"model": smk.wildcards.model, "attack_loss": loss,
                                            **row}]))
