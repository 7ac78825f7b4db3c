"""TextFooler-style attack of one classifier on the drawn target test sentences."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

import torch  # noqa: E402

from advtransfer import (  # noqa: E402
    io,
    text_attack,
    text_data,
    text_models,
    text_transfer,
    training,
)

smk = snakemake  # noqa: F821
log = io.setup_logging(smk.log[0])
text_models.set_offline()
torch.set_num_threads(smk.threads)
cfg = smk.params.attack
device = training.pick_device("auto")
clf, _ = text_models.load_classifier(smk.input.model, device=device)
if cfg["embeddings"]:  # counter-fitted vectors, restricted to lower-case words
    words, vectors = text_data.load_word_vectors(smk.input.vectors)
    neighbours = text_attack.EmbeddingNeighbours(
        words, vectors, k=cfg["candidates"], min_cosine=cfg["min_cosine"],
        exclude=text_attack.STOP_WORDS)
else:  # the model's own (frozen) input token embeddings
    neighbours = text_transfer.vocabulary_neighbours(
        clf.vocabulary(), clf.word_embeddings(), k=cfg["candidates"],
        min_cosine=cfg["min_cosine"])
similarity = None
if cfg["min_similarity"] is not None:
    info = io.read_json(smk.input.encoder)
    if cfg["similarity_encoder"] == "packaged_minilm":
        info = text_models.resolve_encoder({"kind": "packaged_minilm"})
    encoder = text_models.SentenceEncoder(text_models.encoder_path(info),
                                          max_length=clf.max_length, device=device)
    similarity = encoder.similarity
texts, labels = text_data.split_texts(text_data.read_dataset(smk.input.data), "test")
index = text_transfer.attack_indices(len(texts), cfg["n_sentences"], cfg["seed"])
table = text_transfer.attack_sentences(
    lambda batch: clf.predict_proba(batch, cfg["batch_size"]), texts, labels, index,
    neighbours, max_change_rate=cfg["max_change_rate"], similarity=similarity,
    min_similarity=cfg["min_similarity"], batch_size=cfg["batch_size"],
)
log.info("%s: %d sentences, success rate %.3f, mean words changed %.2f, mean queries %.1f",
         smk.wildcards.model, len(table), table["success"].mean(),
         table.loc[table["success"], "n_changed"].mean(), table["queries"].mean())
io.write_tsv(smk.output.attack, table)
