"""Load one text data set (csv / json / hf / synthetic) and write its normalised splits."""

from advtransfer import io
from advtransfer.jobs import start_job
from advtransfer.nlp import data, models

smk, log = start_job(snakemake)  # noqa: F821
models.set_offline(smk.params.allow_download)
name = smk.wildcards.dataset
frame, meta = data.prepare_dataset(
    name, smk.params.spec, cache_dir=smk.params.cache_dir,
    allow_download=smk.params.allow_download,
)
log.info("%s (%s %s): classes %s, rows %s", name, meta["loader"], meta["path"],
         meta["classes"], meta["counts"])
with io.atomic_path(smk.output.data) as tmp:
    frame.to_csv(tmp, index=False)
io.write_json(smk.output.meta, meta)
