"""Write splits of an imageset the workflow made (e.g. the default run's digits target) as
an image folder <root>/<class>/<split>_<i>.png: the byo example's target."""

import shutil

from advtransfer.images import imagefolder, imagesets
from advtransfer.jobs import start_job

smk, log = start_job(snakemake)  # noqa: F821
classes = imagesets.load_meta(smk.input.data)["classes"]
shutil.rmtree(smk.output.folder, ignore_errors=True)
for split in smk.params.splits:
    x, y = imagesets.load_split(smk.input.data, split, raw=True)
    n = imagefolder.write_image_folder(smk.output.folder, x.numpy(), y.numpy(), classes,
                                       prefix=f"{split}_")
    log.info("%s: %d %s images in classes %s -> %s", smk.input.data, n, split, classes,
             smk.output.folder)
