"""Find and check the pretrained encoder (sha256), or build the tiny random one."""

from pathlib import Path

from advtransfer import io
from advtransfer.jobs import start_job
from advtransfer.nlp import data, models

smk, log = start_job(snakemake)  # noqa: F821
models.set_offline(smk.params.allow_download)
spec = smk.params.encoder
texts = None
if spec["kind"] == "random":  # vocabulary from the training texts of every data set
    texts = [t for path in smk.input.data
             for t in data.split_texts(data.read_dataset(path), "train")[0]]
info = models.resolve_encoder(
    spec, cache_dir=smk.params.cache_dir, allow_download=smk.params.allow_download,
    out_dir=Path(smk.output.info).with_suffix(""), texts=texts,  # random: results/nlp/encoder/base/
)
log.info("encoder %s at %s: sha256 %s (expected %s), %s hidden %s, vocabulary %s",
         info["kind"], info["path"], info["sha256"], info["expected_sha256"],
         info["model_type"], info["hidden_size"], info["vocab_size"])
io.write_json(smk.output.info, info)
