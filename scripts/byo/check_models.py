"""Load and run every candidate model once; list them, or stop with every problem at once."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

import pandas as pd  # noqa: E402
import torch  # noqa: E402

from advtransfer import io, model_zoo  # noqa: E402

smk = snakemake  # noqa: F821
log = io.setup_logging(smk.log[0])
torch.set_num_threads(smk.threads)
shape = smk.params.shape
rows, problems = [], []
for spec in smk.params.specs.values():
    try:
        model = model_zoo.load_source(spec, verify_shape=shape)
    except model_zoo.ModelFileError as err:
        problems.append(str(err))
        continue
    info = model_zoo.describe_source(model, shape)
    rows.append({"model": spec["name"], "label": spec.get("label") or spec["name"],
                 "format": spec["format"], "arch": spec.get("arch") or "",
                 "file": spec["file"], **info})
    log.info("%s: %s", spec["name"], rows[-1])
    if info["num_source_classes"] == 0:
        log.info("%s has no source head: LEEP and NCE are undefined for it", spec["name"])
if problems:
    raise model_zoo.ModelFileError("bad candidate model(s):\n  - " + "\n  - ".join(problems))
io.write_tsv(smk.output.table, pd.DataFrame(rows))
