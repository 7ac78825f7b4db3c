"""The images shared by all tasks: digits canvases with task targets, or Taskonomy RGB images."""

from pathlib import Path

import torch

from advtransfer.jobs import start_job
from advtransfer.tasks import models

smk, log = start_job(snakemake)  # noqa: F821
data_cfg, tasks = smk.params.data, smk.params.tasks
if smk.params.dataset == "digits":
    from advtransfer.tasks import digits

    cfg = data_cfg["digits"]
    specs = digits.digits_tasks(tasks, cfg["canvas"], len(cfg["rotations"]))
    data = digits.build_digits_tasks(cfg)
    splits = {k: len(v) for k, v in data["splits"].items()}
    log.info("digits canvases %s, splits %s, tasks %s", tuple(data["x"].shape), splits, tasks)
    models.save_task_data(
        smk.output.data, data["x"], {s.name: data["targets"][s.name] for s in specs},
        data["splits"],
        meta={"dataset": "digits", "tasks": [s.to_dict() for s in specs], "digits": cfg},
    )
else:
    from advtransfer.tasks import taskbank

    cfg = data_cfg["taskbank"]
    specs = taskbank.taskbank_tasks(tasks, cfg["losses"])
    files = list(smk.input.images)
    x = taskbank.load_images(files, cfg["image_size"])
    log.info("%d images from %s, resized to %s", len(files), cfg["images_dir"],
             tuple(x.shape[1:]))
    models.save_task_data(
        smk.output.data, x, {}, {"attack": torch.arange(len(files))},
        meta={"dataset": "taskonomy", "tasks": [s.to_dict() for s in specs],
              "files": [Path(f).name for f in files]},
    )
