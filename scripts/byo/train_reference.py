"""Train the reference model on the byo target; model selection on the validation split."""

from advtransfer.byo import stages
from advtransfer.images import architectures, imagesets, training
from advtransfer.jobs import start_job

smk, log = start_job(snakemake)  # noqa: F821
cfg, seed = smk.params.train, smk.params.seed
meta = imagesets.load_meta(smk.input.data)
model, info = stages.train_reference(
    imagesets.load_split(smk.input.data, "train"), imagesets.load_split(smk.input.data, "val"),
    len(meta["classes"]), cfg, seed=seed, device=training.pick_device("auto"), log=log,
)
architectures.save_model(
    model.cpu(), smk.output.model,
    meta={"model": "reference", "scenario": "byo", "seed": seed, "classes": meta["classes"],
          "data": smk.input.data, "val_accuracy": info["val_accuracy"],
          "val_loss": info["val_loss"], "train": cfg, "history": info["history"]},
)
