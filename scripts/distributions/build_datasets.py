"""Build the five source data sets and the target data set (SPEC §5.2)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

from advtransfer import distributions, imagesets, io  # noqa: E402

smk = snakemake  # noqa: F821
log = io.setup_logging(smk.log[0])
cfg = smk.params.cfg
built = distributions.build_datasets(cfg)
for path in smk.output.data:
    name = Path(path).name.removesuffix(".safetensors")
    entry = built[name]
    sizes = {k: len(v) for k, v in entry["arrays"].items() if k.startswith("y_")}
    log.info("%s: classes %s, domain %s, sizes %s", name, entry["classes"], entry["domain"], sizes)
    imagesets.save_imageset(
        path, entry["arrays"], {"classes": entry["classes"], "domain": entry["domain"]}
    )
