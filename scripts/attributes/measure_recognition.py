"""Knowledge transferability of one model: its stripped embedding as a recognition feature."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

import pandas as pd  # noqa: E402
import torch  # noqa: E402

from advtransfer import architectures, attributes, imagesets, io, training  # noqa: E402

smk = snakemake  # noqa: F821
log = io.setup_logging(smk.log[0])
torch.set_num_threads(smk.threads)
ver, probe = smk.params.verification, smk.params.probe
device = training.pick_device("auto")
model, meta = architectures.load_model(smk.input.model)
pairs = {}
for bench, path in zip(smk.params.benchmarks, smk.input.pairs):
    tensors = io.load_tensors(path)
    pairs[bench] = (tensors["x"], tensors["issame"])
row = attributes.recognition_measures(
    model.to(device), pairs, imagesets.load_split(smk.input.probe, "train"),
    imagesets.load_split(smk.input.probe, "test"), flip=ver["flip"], folds=ver["folds"],
    C=probe["C"], kshot=probe["kshot"], device=device,
)
row["source_val_accuracy"] = meta.get("val_accuracy")
log.info("%s: %s", smk.wildcards.model, row)
io.write_tsv(smk.output.row, pd.DataFrame([{"model": smk.wildcards.model, **row}]))
