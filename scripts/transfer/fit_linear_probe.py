"""Knowledge transferability of one source: linear probes on frozen features (one row)."""

import pandas as pd

from advtransfer import io
from advtransfer.core.modelutils import pick_device
from advtransfer.images import architectures, imagesets, measures
from advtransfer.jobs import start_job

smk, log = start_job(snakemake)  # noqa: F821
cfg = smk.params.probe
device = pick_device("auto")
source, meta = architectures.load_model(smk.input.source)
row = measures.knowledge_measures(
    source.to(device), imagesets.load_split(smk.input.data, "train"),
    imagesets.load_split(smk.input.data, "test"), C=cfg["C"], C_grid=cfg.get("C_grid"),
    val=imagesets.load_split(smk.input.data, "val") if cfg.get("C_grid") else None, kshot=cfg["kshot"], device=device,
)
log.info("%s: probe C %g (grid %s, chosen on the target validation split)",
         smk.wildcards.model, row["probe_C"], cfg.get("C_grid"))
row["source_val_accuracy"] = meta.get("val_accuracy")
log.info("%s: %s", smk.wildcards.model, row)
io.write_tsv(smk.output.row, pd.DataFrame([{"model": smk.wildcards.model, **row}]))
