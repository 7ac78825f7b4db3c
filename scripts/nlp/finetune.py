"""Fine-tune one source or reference text classifier; best epoch on the validation split."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

import torch  # noqa: E402

from advtransfer import io, text_data, text_models, training  # noqa: E402

smk = snakemake  # noqa: F821
log = io.setup_logging(smk.log[0])
text_models.set_offline()
torch.set_num_threads(smk.threads)
cfg, seed = smk.params.train, smk.params.seed
device = training.pick_device("auto")
base = text_models.encoder_path(io.read_json(smk.input.encoder))  # re-checks the sha256
data, classes = text_data.read_dataset(smk.input.data), io.read_json(smk.input.data_meta)["classes"]
train, val = text_data.split_texts(data, "train"), text_data.split_texts(data, "val")
test = text_data.split_texts(data, "test")
log.info("fine-tuning %s from %s on %s: %d train / %d val texts, classes %s, device %s",
         smk.wildcards.model, base, smk.input.data, len(train[0]), len(val[0]), classes, device)
clf, history = text_models.finetune_classifier(
    base, train, val, num_labels=len(classes), epochs=cfg["epochs"],
    batch_size=cfg["batch_size"], lr=cfg["lr"], weight_decay=cfg["weight_decay"],
    warmup_ratio=cfg["warmup_ratio"], max_length=smk.params.max_length,
    freeze_word_embeddings=smk.params.freeze_word_embeddings, seed=seed, device=device,
)
scores = {split: text_models.evaluate_classifier(clf, *part)
          for split, part in (("val", val), ("test", test))}
log.info("best epoch %s: %s", history.get("best_epoch"), scores)
text_models.save_classifier(clf, Path(smk.output.model).parent, meta={
    "model": smk.wildcards.model, "seed": seed, "classes": classes, "data": smk.input.data,
    "val_accuracy": scores["val"]["accuracy"], "test_accuracy": scores["test"]["accuracy"],
    "train": cfg, "history": history, "freeze_word_embeddings": smk.params.freeze_word_embeddings,
})
