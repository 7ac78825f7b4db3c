"""Import one Taskonomy task-bank model: .pth state dicts (weights only) -> safetensors + sidecar."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

from advtransfer import io, multitask, taskbank  # noqa: E402

smk = snakemake  # noqa: F821
log = io.setup_logging(smk.log[0])
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
multitask.save_task_model(model, smk.output.model, spec, meta={
    "encoder_file": Path(smk.input.encoder).name, "decoder_file": Path(smk.input.decoder).name,
})
