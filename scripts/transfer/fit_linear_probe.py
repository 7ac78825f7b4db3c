"""Knowledge transferability of one source: linear probes on frozen features (one row)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

import pandas as pd  # noqa: E402
import torch  # noqa: E402

from advtransfer import architectures, imagesets, io, training, transfer  # noqa: E402

smk = snakemake  # noqa: F821
log = io.setup_logging(smk.log[0])
torch.set_num_threads(smk.threads)
cfg = smk.params.probe
device = training.pick_device("auto")
source, meta = architectures.load_model(smk.input.source)
row = transfer.knowledge_measures(
    source.to(device), imagesets.load_split(smk.input.data, "train"),
    imagesets.load_split(smk.input.data, "test"), C=cfg["C"], kshot=cfg["kshot"], device=device,
)
row["source_val_accuracy"] = meta.get("val_accuracy")
log.info("%s: %s", smk.wildcards.model, row)
io.write_tsv(smk.output.row, pd.DataFrame([{"model": smk.wildcards.model, **row}]))
