"""Knowledge transferability of one model: its stripped embedding as a recognition feature."""

import pandas as pd

from advtransfer import io
from advtransfer.attributes import experiment
from advtransfer.core.modelutils import pick_device
from advtransfer.images import architectures, imagesets
from advtransfer.jobs import start_job

smk, log = start_job(snakemake)  # noqa: F821
ver, probe = smk.params.verification, smk.params.probe
device = pick_device("auto")
model, meta = architectures.load_model(smk.input.model)
pairs = {}
for bench, path in zip(smk.params.benchmarks, smk.input.pairs):
    tensors = io.load_tensors(path)
    pairs[bench] = (tensors["x"], tensors["issame"])
row = experiment.recognition_measures(
    model.to(device), pairs, imagesets.load_split(smk.input.probe, "train"),
    imagesets.load_split(smk.input.probe, "test"), flip=ver["flip"], folds=ver["folds"],
    C=probe["C"], C_grid=probe.get("C_grid"), kshot=probe["kshot"], device=device,
)
row["source_val_accuracy"] = meta.get("val_accuracy")
log.info("%s: %s", smk.wildcards.model, row)
io.write_tsv(smk.output.row, pd.DataFrame([{"model": smk.wildcards.model, **row}]))
