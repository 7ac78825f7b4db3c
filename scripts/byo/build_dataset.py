"""Read the target image folder, resize, and split it into train / val / test (stratified)."""

import numpy as np

from advtransfer.images import datasets, imagefolder, imagesets
from advtransfer.jobs import start_job

smk, log = start_job(snakemake)  # noqa: F821
cfg = smk.params.target
index = imagefolder.scan_image_folder(cfg["image_folder"], max_per_class=cfg["max_per_class"])
log.info("%s: %d images in classes %s", index.root, len(index.files), index.counts())
x, y = imagefolder.read_image_folder(index, image_size=cfg["image_size"], channels=cfg["channels"])
parts = datasets.split_indices(y, cfg["split"], seed=cfg["split_seed"])
for split in ("train", "val", "test"):
    counts = np.bincount(y[parts[split]], minlength=len(index.classes))
    if counts.min() == 0:
        raise ValueError(
            f"the {split} split of {index.root} has no image of class "
            f"{index.classes[int(counts.argmin())]} (split {cfg['split']}, "
            f"{len(y)} images). Fix: add images to that class or change byo.target.split."
        )
    log.info("%s: %d images per class %s", split, len(parts[split]), counts.tolist())
arrays = {f"{k}_{split}": v[parts[split]] for split in ("train", "val", "test")
          for k, v in (("x", x), ("y", y))}
imagesets.save_imageset(smk.output.data, arrays, {
    "classes": list(index.classes), "domain": f"image folder {index.root}"})
