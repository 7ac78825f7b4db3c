"""Train one zoo model (a source, or the reference of a target task); selection on val."""

import torch

from advtransfer.images import architectures, datasets, imagesets, training
from advtransfer.jobs import start_job

smk, log = start_job(snakemake)  # noqa: F821
cfg = smk.params.train
device = training.pick_device("auto")
meta = imagesets.load_meta(smk.input.data)
x_train, y_train = imagesets.load_split(smk.input.data, "train", raw=True)
x_val, y_val = imagesets.load_split(smk.input.data, "val", raw=True)
mean, std = datasets.channel_stats(x_train)
torch.manual_seed(cfg["seed"])
model = architectures.build_model(cfg["arch"], num_classes=len(meta["classes"]),
                                  in_channels=x_train.shape[1], mean=mean, std=std).to(device)
log.info("training %s (%s, %d parameters) on %s: %d train / %d val images, device %s",
         smk.wildcards.model, cfg["arch"], sum(p.numel() for p in model.parameters()),
         meta["classes"], len(y_train), len(y_val), device)
model, history = training.train_classifier(
    model, (x_train, y_train), (x_val, y_val), epochs=cfg["epochs"], batch_size=cfg["batch_size"],
    optimizer=cfg["optimizer"], lr=cfg["lr"], momentum=cfg["momentum"],
    weight_decay=cfg["weight_decay"], seed=cfg["seed"], device=device, augment=cfg["augment"],
    lr_schedule=cfg["lr_schedule"],
)
val = training.evaluate(model, x_val, y_val, batch_size=512, device=device)
log.info("best epoch %s, validation accuracy %.4f", history.get("best_epoch"), val["accuracy"])
architectures.save_model(
    model.cpu(), smk.output.model,
    meta={"model": smk.wildcards.model, "scenario": "zoo", "seed": cfg["seed"],
          "classes": meta["classes"], "data": smk.input.data, "domain": meta["domain"],
          "val_accuracy": val["accuracy"], "val_loss": val["loss"], "train": cfg,
          "history": history},
)
