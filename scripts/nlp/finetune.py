"""Fine-tune one source or reference text classifier; best epoch on the validation split."""

from pathlib import Path

from advtransfer import io
from advtransfer.core.modelutils import pick_device
from advtransfer.jobs import start_job
from advtransfer.nlp import data, models

smk, log = start_job(snakemake)  # noqa: F821
models.set_offline()
cfg, seed = smk.params.train, smk.params.seed
device = pick_device("auto")
base = models.encoder_path(io.read_json(smk.input.encoder))  # re-checks the sha256
dataset, classes = data.read_dataset(smk.input.data), io.read_json(smk.input.data_meta)["classes"]
train, val = data.split_texts(dataset, "train"), data.split_texts(dataset, "val")
test = data.split_texts(dataset, "test")
log.info("fine-tuning %s from %s on %s: %d train / %d val texts, classes %s, device %s",
         smk.wildcards.model, base, smk.input.data, len(train[0]), len(val[0]), classes, device)
clf, history = models.finetune_classifier(
    base, train, val, num_labels=len(classes), epochs=cfg["epochs"],
    batch_size=cfg["batch_size"], lr=cfg["lr"], weight_decay=cfg["weight_decay"],
    warmup_ratio=cfg["warmup_ratio"], max_length=smk.params.max_length,
    freeze_word_embeddings=smk.params.freeze_word_embeddings, seed=seed, device=device,
)
scores = {split: models.evaluate_classifier(clf, *part)
          for split, part in (("val", val), ("test", test))}
log.info("best epoch %s: %s", history.get("best_epoch"), scores)
models.save_classifier(clf, Path(smk.output.model).parent, meta={
    "model": smk.wildcards.model, "seed": seed, "classes": classes, "data": smk.input.data,
    "val_accuracy": scores["val"]["accuracy"], "test_accuracy": scores["test"]["accuracy"],
    "train": cfg, "history": history, "freeze_word_embeddings": smk.params.freeze_word_embeddings,
})
