"""PGD images of one target task's reference model on that task's attack images."""

from advtransfer import io
from advtransfer.core.modelutils import pick_device
from advtransfer.images import architectures
from advtransfer.jobs import start_job
from advtransfer.zoo import experiment

smk, log = start_job(snakemake)  # noqa: F821
cfg = smk.params.attack
device = pick_device("auto")
model, _ = architectures.load_model(smk.input.model)
x, _, idx = experiment.attack_set(smk.input.data, cfg)
x_adv = experiment.pgd_images(model.to(device), x, cfg, device)
log.info("reference of %s: PGD on %d images (eps %.3g, %d steps)", smk.wildcards.target,
         len(idx), cfg["eps"], cfg["steps"])
io.save_tensors(smk.output.adv, {"x_adv": x_adv, "index": idx},
                meta={"attack": cfg, "model": f"reference_{smk.wildcards.target}"})
