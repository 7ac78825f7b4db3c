"""Knowledge transferability of one text source: linear probe on the frozen encoder."""

import pandas as pd

from advtransfer import io
from advtransfer.core.modelutils import pick_device
from advtransfer.jobs import start_job
from advtransfer.nlp import data, measures, models

smk, log = start_job(snakemake)  # noqa: F821
models.set_offline()
device = pick_device("auto")
source, meta = models.load_classifier(smk.input.source, device=device)
dataset = data.read_dataset(smk.input.data)
row = measures.text_knowledge_measures(
    source, data.split_texts(dataset, "train"), data.split_texts(dataset, "test"),
    num_classes=len(io.read_json(smk.input.data_meta)["classes"]), probe=smk.params.probe,
    batch_size=smk.params.batch_size,
    val=data.split_texts(dataset, "val") if smk.params.probe.get("C_grid") else None,
)
row.update(source_val_accuracy=meta["val_accuracy"], source_test_accuracy=meta["test_accuracy"])
log.info("%s: %s", smk.wildcards.model, row)
io.write_tsv(smk.output.row, pd.DataFrame([{"model": smk.wildcards.model, **row}]))
