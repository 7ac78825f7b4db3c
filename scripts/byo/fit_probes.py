"""Verified transfer accuracy of every candidate: linear probes on its frozen features."""

import pandas as pd
from tqdm import tqdm

from advtransfer import io
from advtransfer.images import sources
from advtransfer.core.modelutils import pick_device
from advtransfer.images import imagesets, measures
from advtransfer.jobs import start_job

smk, log = start_job(snakemake)  # noqa: F821
cfg = smk.params.probe
device = pick_device("auto")
train = imagesets.load_split(smk.input.data, "train")
test = imagesets.load_split(smk.input.data, "test")
val = imagesets.load_split(smk.input.data, "val") if cfg.get("C_grid") else None
rows = []
for name, spec in tqdm(smk.params.specs.items(), desc="candidates"):
    source = sources.load_source(spec).to(device)
    row = measures.knowledge_measures(source, train, test, C=cfg["C"], C_grid=cfg.get("C_grid"),
                                      val=val, kshot=cfg["kshot"], device=device)
    log.info("%s: %s", name, row)
    rows.append({"model": name, **row})
io.write_tsv(smk.output.table, pd.DataFrame(rows))
