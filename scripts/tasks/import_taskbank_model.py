"""Import one Taskonomy task-bank model: .pth state dicts (weights only) -> safetensors + sidecar."""

from pathlib import Path

from advtransfer.jobs import start_job
from advtransfer.tasks import models, taskbank

smk, log = start_job(snakemake)  # noqa: F821
cfg, task = smk.params.taskbank, smk.wildcards.task
spec = next(s for s in taskbank.taskbank_tasks([task], {k: v for k, v in cfg["losses"].items()
                                                        if k == task}))
model = taskbank.build_taskbank_model(
    spec, taskbank.read_state_dict(smk.input.encoder), taskbank.read_state_dict(smk.input.decoder),
    width=cfg["width"], image_size=cfg["image_size"],
)
n_params = sum(p.numel() for p in model.parameters())
log.info("%s: %s loss, %d outputs, %d parameters, from %s and %s", task, spec.loss,
         spec.out_dim, n_params, Path(smk.input.encoder).name, Path(smk.input.decoder).name)
models.save_task_model(model, smk.output.model, spec, meta={
    "encoder_file": Path(smk.input.encoder).name, "decoder_file": Path(smk.input.decoder).name,
})
