"""Train one source or reference classifier; model selection on the validation split."""

import torch

from advtransfer.images import architectures, datasets, imagesets, training
from advtransfer.jobs import start_job

smk, log = start_job(snakemake)  # noqa: F821
cfg, seed, labels = smk.params.train, smk.params.seed, smk.params.labels
device = training.pick_device("auto")
meta = imagesets.load_meta(smk.input.data)
# as stored (uint8 at paper scale): batches are converted to float during training
x_train, y_train = imagesets.load_split(smk.input.data, "train", raw=True)
x_val, y_val = imagesets.load_split(smk.input.data, "val", raw=True)
if labels != "y":  # e.g. one attribute of the attributes scenario's target images
    y_train, y_val = (imagesets.load_labels(smk.input.data, labels, s) for s in ("train", "val"))
classes = imagesets.label_classes(meta, labels)
mean, std = datasets.channel_stats(x_train)
head = cfg.get("head", "linear")
torch.manual_seed(seed)
model = architectures.build_model(
    cfg["arch"], num_classes=len(classes), in_channels=x_train.shape[1], mean=mean, std=std,
    head=head, head_options=cfg.get("arcface") if head == "arcface" else None,
).to(device)
log.info("training %s (%s, %s head) on %s %s: %d train / %d val images, device %s",
         smk.wildcards.model, cfg["arch"], head, labels, classes[:12], len(y_train), len(y_val),
         device)
model, history = training.train_classifier(
    model, (x_train, y_train), (x_val, y_val), epochs=cfg["epochs"], batch_size=cfg["batch_size"],
    optimizer=cfg["optimizer"], lr=cfg["lr"], momentum=cfg["momentum"],
    weight_decay=cfg["weight_decay"], seed=seed, device=device, augment=cfg["augment"],
    lr_schedule=cfg["lr_schedule"], criterion=cfg.get("loss", "ce"),
    focal_gamma=cfg.get("focal_gamma", 2.0),
)
val = training.evaluate(model, x_val, y_val, batch_size=512, device=device)
log.info("best epoch %s, validation accuracy %.4f", history.get("best_epoch"), val["accuracy"])
architectures.save_model(
    model.cpu(), smk.output.model,
    meta={"model": smk.wildcards.model, "scenario": smk.wildcards.scenario, "seed": seed,
          "classes": classes, "data": smk.input.data, "domain": meta["domain"],
          "val_accuracy": val["accuracy"], "val_loss": val["loss"], "train": cfg,
          "history": history, **({"labels": labels} if labels != "y" else {})},
)
