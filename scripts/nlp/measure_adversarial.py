"""Adversarial transferability from one text source to the reference (one TSV row)."""

import pandas as pd

from advtransfer import io
from advtransfer.core.modelutils import pick_device
from advtransfer.jobs import start_job
from advtransfer.nlp import measures, models

smk, log = start_job(snakemake)  # noqa: F821
models.set_offline()
device = pick_device("auto")
source, _ = models.load_classifier(smk.input.source, device=device)
reference, _ = models.load_classifier(smk.input.reference, device=device)
read = {"keep_default_na": False, "sep": "\t"}
row = measures.text_adversarial_measures(
    source, reference, pd.read_csv(smk.input.adv_source, **read),
    pd.read_csv(smk.input.adv_reference, **read), jacobian_points=smk.params.jacobian_points,
    batch_size=smk.params.batch_size, jacobian_output=smk.params.jacobian_output,
    jacobian_method=smk.params.jacobian["jacobian_method"],
    jacobian_memory_mb=smk.params.jacobian["jacobian_memory_mb"],
)
log.info("%s -> reference: %s", smk.wildcards.model, row)
io.write_tsv(smk.output.row, pd.DataFrame([{"model": smk.wildcards.model, **row}]))
