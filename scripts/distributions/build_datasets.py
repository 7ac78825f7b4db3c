"""Build the five source data sets and the target data set (docs/method.md §9.2)."""

from pathlib import Path

from advtransfer.distributions import sources
from advtransfer.images import imagesets
from advtransfer.jobs import start_job

smk, log = start_job(snakemake)  # noqa: F821
built = sources.build_datasets(smk.params.data)
for path in smk.output.data:
    name = Path(path).name.removesuffix(".safetensors")
    entry = built[name]
    sizes = {k: len(v) for k, v in entry["arrays"].items() if k.startswith("y_")}
    log.info("%s: classes %s, domain %s, sizes %s", name, entry["classes"], entry["domain"], sizes)
    imagesets.save_imageset(
        path, entry["arrays"], {"classes": entry["classes"], "domain": entry["domain"]}
    )
