"""Load one text data set (csv / json / hf / synthetic) and write its normalised splits."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

from advtransfer import io, text_data, text_models  # noqa: E402

smk = snakemake  # noqa: F821
log = io.setup_logging(smk.log[0])
text_models.set_offline(smk.params.allow_download)
name = smk.wildcards.dataset
frame, meta = text_data.prepare_dataset(
    name, smk.params.spec, cache_dir=smk.params.cache_dir,
    allow_download=smk.params.allow_download,
)
log.info("%s (%s %s): classes %s, rows %s", name, meta["loader"], meta["path"],
         meta["classes"], meta["counts"])
with io.atomic_path(smk.output.data) as tmp:
    frame.to_csv(tmp, index=False)
io.write_json(smk.output.meta, meta)
