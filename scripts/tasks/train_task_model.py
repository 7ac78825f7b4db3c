"""Train one digits task model (shared encoder architecture + linear head) with its own loss."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

import torch  # noqa: E402

from advtransfer import digitstasks, io, multitask, training  # noqa: E402

smk = snakemake  # noqa: F821
log = io.setup_logging(smk.log[0])
torch.set_num_threads(smk.threads)
cfg, seed, task = smk.params.train, smk.params.seed, smk.wildcards.task
device = training.pick_device("auto")
data = multitask.load_task_data(smk.input.data)
spec = next(multitask.TaskSpec(**t) for t in data.meta["tasks"] if t["name"] == task)
train, val = data.splits["train"], data.splits["val"]
x, y = data.x, data.targets[task]
mean, std = x[train].mean().item(), x[train].std().item()
torch.manual_seed(seed)
model = digitstasks.TaskNet(spec.out_dim, in_channels=x.shape[1], image_size=x.shape[-1],
                            width=cfg["width"], feature_dim=cfg["feature_dim"], mean=[mean], std=[std])
log.info("training %s (%s, %s loss, %d outputs): %d train / %d val canvases, device %s",
         task, spec.category, spec.loss, spec.out_dim, len(train), len(val), device)
model, history = multitask.train_task_model(
    model, (x[train], y[train]), (x[val], y[val]), kind=spec.loss, epochs=cfg["epochs"],
    batch_size=cfg["batch_size"], lr=cfg["lr"], weight_decay=cfg["weight_decay"], seed=seed,
    input_transform=digitstasks.training_transform(task, smk.params.digits), device=device,
)
val_out = multitask.model_outputs(model, x[val])
quality = {"val_loss": history["best_val_loss"]}
if spec.loss == "ce":
    quality["val_accuracy"] = float((val_out.argmax(1) == y[val]).float().mean())
log.info("best epoch %d: %s", history["best_epoch"] + 1, quality)
multitask.save_task_model(model.cpu(), smk.output.model, spec,
                          meta={"seed": seed, "train": cfg, "history": history, **quality})
