"""Attack one candidate (PGD on target validation images) and measure its adversarial
transferability to the byo reference (one TSV row)."""

import pandas as pd
import torch

from advtransfer import io
from advtransfer.byo import stages
from advtransfer.core.modelutils import pick_device
from advtransfer.images import architectures, imagesets, sources
from advtransfer.jobs import start_job

smk, log = start_job(snakemake)  # noqa: F821
cfg = smk.params.attack
device = pick_device("auto")
source = sources.load_source(smk.params.spec)
reference, _ = architectures.load_model(smk.input.reference)
adv_r = io.load_tensors(smk.input.adv_reference)
idx, x, y = stages.attack_images(imagesets.load_split(smk.input.data, "val"), cfg)
if not torch.equal(idx, adv_r["index"]):
    raise ValueError(f"{smk.input.adv_reference} attacks other images than these settings "
                     "select; delete it and re-run")
row = stages.measure_candidate(
    source, reference, x, y, adv_r["x_adv"], cfg, jacobian_points=smk.params.jacobian_points,
    jacobian_output=smk.params.jacobian_output, device=device,
)
log.info("%s: %d validation images, eps %.3g, %d steps, loss %s", smk.wildcards.model, len(y),
         cfg["eps"], cfg["steps"], row["attack_loss"])
log.info("%s -> reference: %s", smk.wildcards.model, row)
io.write_tsv(smk.output.row, pd.DataFrame([{"model": smk.wildcards.model, **row}]))
