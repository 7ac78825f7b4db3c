"""TextFooler-style attack of one classifier on the drawn target test sentences."""

from advtransfer import io
from advtransfer.core.modelutils import pick_device
from advtransfer.jobs import start_job
from advtransfer.nlp import attack, data, measures, models

smk, log = start_job(snakemake)  # noqa: F821
models.set_offline()
cfg = smk.params.attack
device = pick_device("auto")
clf, _ = models.load_classifier(smk.input.model, device=device)
if cfg["embeddings"]:  # counter-fitted vectors, restricted to lower-case words
    words, vectors = data.load_word_vectors(smk.input.vectors)
    neighbours = attack.EmbeddingNeighbours(
        words, vectors, k=cfg["candidates"], min_cosine=cfg["min_cosine"],
        exclude=attack.STOP_WORDS)
else:  # the model's own (frozen) input token embeddings
    neighbours = measures.vocabulary_neighbours(
        clf.vocabulary(), clf.word_embeddings(), k=cfg["candidates"],
        min_cosine=cfg["min_cosine"])
similarity = None
if cfg["min_similarity"] is not None:
    info = io.read_json(smk.input.encoder)
    if cfg["similarity_encoder"] == "packaged_minilm":
        info = models.resolve_encoder({"kind": "packaged_minilm"})
    encoder = models.SentenceEncoder(models.encoder_path(info),
                                          max_length=clf.max_length, device=device)
    similarity = encoder.similarity
texts, labels = data.split_texts(data.read_dataset(smk.input.data), "test")
index = measures.attack_indices(len(texts), cfg["n_sentences"], cfg["seed"])
table = measures.attack_sentences(
    lambda batch: clf.predict_proba(batch, cfg["batch_size"]), texts, labels, index,
    neighbours, max_change_rate=cfg["max_change_rate"], similarity=similarity,
    min_similarity=cfg["min_similarity"], batch_size=cfg["batch_size"],
)
log.info("%s: %d sentences, success rate %.3f, mean words changed %.2f, mean queries %.1f",
         smk.wildcards.model, len(table), table["success"].mean(),
         table.loc[table["success"], "n_changed"].mean(), table["queries"].mean())
io.write_tsv(smk.output.attack, table)
