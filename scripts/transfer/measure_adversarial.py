"""Adversarial transferability from one source to the reference (one TSV row)."""

import pandas as pd
import torch

from advtransfer import io
from advtransfer.core.modelutils import pick_device
from advtransfer.images import architectures, imagesets, measures
from advtransfer.jobs import start_job

smk, log = start_job(snakemake)  # noqa: F821
device = pick_device("auto")
source, _ = architectures.load_model(smk.input.source)
reference, _ = architectures.load_model(smk.input.reference)
adv_s, adv_r = io.load_tensors(smk.input.adv_source), io.load_tensors(smk.input.adv_reference)
if not torch.equal(adv_s["index"], adv_r["index"]):
    raise ValueError(
        f"{smk.input.adv_source} and {smk.input.adv_reference} attack different images; "
        "delete both and re-run so they share the attack settings"
    )
x, y = imagesets.load_split(smk.input.data, "test")
x, y = x[adv_s["index"]], y[adv_s["index"]]
row = measures.adversarial_measures(
    source.to(device), reference.to(device), x.to(device), y.to(device),
    adv_s["x_adv"].to(device), adv_r["x_adv"].to(device),
    jacobian_points=smk.params.jacobian_points, batch_size=smk.params.attack["batch_size"],
    jacobian_output=smk.params.jacobian_output,
    jacobian_method=smk.params.jacobian["jacobian_method"],
    jacobian_memory_mb=smk.params.jacobian["jacobian_memory_mb"],
)
log.info("%s -> reference: %s", smk.wildcards.model, row)
io.write_tsv(smk.output.row, pd.DataFrame([{"model": smk.wildcards.model, **row}]))
