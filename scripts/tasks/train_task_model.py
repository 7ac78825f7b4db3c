"""Train one digits task model (shared encoder architecture + linear head) with its own loss."""

import torch

from advtransfer.core.modelutils import pick_device
from advtransfer.jobs import start_job
from advtransfer.tasks import digits, models

smk, log = start_job(snakemake)  # noqa: F821
cfg, seed, task = smk.params.train, smk.params.seed, smk.wildcards.task
device = pick_device("auto")
data = models.load_task_data(smk.input.data)
spec = next(models.TaskSpec(**t) for t in data.meta["tasks"] if t["name"] == task)
train, val = data.splits["train"], data.splits["val"]
x, y = data.x, data.targets[task]
mean, std = x[train].mean().item(), x[train].std().item()
torch.manual_seed(seed)
model = digits.TaskNet(spec.out_dim, in_channels=x.shape[1], image_size=x.shape[-1],
                            width=cfg["width"], feature_dim=cfg["feature_dim"], mean=[mean], std=[std])
log.info("training %s (%s, %s loss, %d outputs): %d train / %d val canvases, device %s",
         task, spec.category, spec.loss, spec.out_dim, len(train), len(val), device)
model, history = models.train_task_model(
    model, (x[train], y[train]), (x[val], y[val]), kind=spec.loss, epochs=cfg["epochs"],
    batch_size=cfg["batch_size"], lr=cfg["lr"], weight_decay=cfg["weight_decay"], seed=seed,
    input_transform=digits.training_transform(task, smk.params.digits), device=device,
)
val_out = models.model_outputs(model, x[val])
quality = {"val_loss": history["best_val_loss"]}
if spec.loss == "ce":
    quality["val_accuracy"] = float((val_out.argmax(1) == y[val]).float().mean())
log.info("best epoch %d: %s", history["best_epoch"] + 1, quality)
models.save_task_model(model.cpu(), smk.output.model, spec,
                          meta={"seed": seed, "train": cfg, "history": history, **quality})
