"""Build the zoo's source data sets and target tasks (advtransfer.zoo.data)."""

from pathlib import Path

from advtransfer.images import imagesets
from advtransfer.jobs import start_job
from advtransfer.zoo.data import build_zoo_data

smk, log = start_job(snakemake)  # noqa: F821
built = build_zoo_data(smk.params.data)
for path in smk.output.data:
    name = Path(path).name.removesuffix(".safetensors")
    entry = built[name]
    sizes = {k[2:]: len(v) for k, v in entry["arrays"].items() if k.startswith("y_")}
    log.info("%s: classes %s, domain %s, sizes %s", name, entry["classes"], entry["domain"], sizes)
    imagesets.save_imageset(path, entry["arrays"],
                            {"classes": entry["classes"], "domain": entry["domain"]})
