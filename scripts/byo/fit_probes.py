"""Verified transfer accuracy of every candidate: linear probes on its frozen features."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

import pandas as pd  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from advtransfer import imagesets, io, model_zoo, training, transfer  # noqa: E402

smk = snakemake  # noqa: F821
log = io.setup_logging(smk.log[0])
torch.set_num_threads(smk.threads)
cfg = smk.params.probe
device = training.pick_device("auto")
train = imagesets.load_split(smk.input.data, "train")
test = imagesets.load_split(smk.input.data, "test")
rows = []
for name, spec in tqdm(smk.params.specs.items(), desc="candidates"):
    source = model_zoo.load_source(spec).to(device)
    row = transfer.knowledge_measures(source, train, test, C=cfg["C"], kshot=cfg["kshot"],
                                      device=device)
    log.info("%s: %s", name, row)
    rows.append({"model": name, **row})
io.write_tsv(smk.output.table, pd.DataFrame(rows))
