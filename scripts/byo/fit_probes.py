"""Verified transfer accuracy of every candidate: linear probes on its frozen features."""

import pandas as pd
from tqdm import tqdm

from advtransfer import io
from advtransfer.byo import stages
from advtransfer.core.modelutils import pick_device
from advtransfer.images import imagesets, sources
from advtransfer.jobs import start_job

smk, log = start_job(snakemake)  # noqa: F821
cfg = smk.params.probe
device = pick_device("auto")
train, val, test = (imagesets.load_split(smk.input.data, s) for s in ("train", "val", "test"))
rows = []
for name, spec in tqdm(smk.params.specs.items(), desc="candidates"):
    row = stages.probe_candidate(sources.load_source(spec), train, test, val, cfg, device=device)
    log.info("%s: %s", name, row)
    rows.append({"model": name, **row})
io.write_tsv(smk.output.table, pd.DataFrame(rows))
