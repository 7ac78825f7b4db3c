"""PGD (L-inf) images of the byo reference on target validation images."""

from advtransfer import io
from advtransfer.byo import stages
from advtransfer.core.modelutils import pick_device
from advtransfer.images import imagesets, sources
from advtransfer.jobs import start_job

smk, log = start_job(snakemake)  # noqa: F821
cfg = smk.params.attack
device = pick_device("auto")
model = sources.load_source(smk.params.spec).to(device)
idx, x, y = stages.attack_images(imagesets.load_split(smk.input.data, "val"), cfg)
x_adv = stages.attack_reference(model, x, y, cfg, device)
log.info("reference: %d validation images, eps %.3g, %d steps, loss %s", len(y), cfg["eps"],
         cfg["steps"], cfg["loss"])
io.save_tensors(smk.output.adv, {"x_adv": x_adv, "index": idx},
                meta={"attack": cfg, "model": "reference", "split": "val"})
