"""Load and run every candidate model once; list them, or stop with every problem at once."""

import pandas as pd

from advtransfer import io
from advtransfer.images import sources
from advtransfer.jobs import start_job

smk, log = start_job(snakemake)  # noqa: F821
shape = smk.params.shape
rows, problems = [], []
for spec in smk.params.specs.values():
    try:
        model = sources.load_source(spec, verify_shape=shape)
    except sources.ModelFileError as err:
        problems.append(str(err))
        continue
    info = sources.describe_source(model, shape)
    rows.append({"model": spec["name"], "label": spec.get("label") or spec["name"],
                 "format": spec["format"], "arch": spec.get("arch") or "",
                 "file": spec["file"], **info})
    log.info("%s: %s", spec["name"], rows[-1])
    if info["num_source_classes"] == 0:
        log.info("%s has no source head: LEEP and NCE are undefined for it", spec["name"])
if problems:
    raise sources.ModelFileError("bad candidate model(s):\n  - " + "\n  - ".join(problems))
io.write_tsv(smk.output.table, pd.DataFrame(rows))
