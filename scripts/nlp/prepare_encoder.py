"""Find and check the pretrained encoder (sha256), or build the tiny random one."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

from advtransfer import io, text_data, text_models  # noqa: E402

smk = snakemake  # noqa: F821
log = io.setup_logging(smk.log[0])
text_models.set_offline(smk.params.allow_download)
spec = smk.params.encoder
texts = None
if spec["kind"] == "random":  # vocabulary from the training texts of every data set
    texts = [t for path in smk.input.data
             for t in text_data.split_texts(text_data.read_dataset(path), "train")[0]]
info = text_models.resolve_encoder(
    spec, cache_dir=smk.params.cache_dir, allow_download=smk.params.allow_download,
    out_dir=Path(smk.output.info).with_suffix(""), texts=texts,  # random: results/nlp/encoder/base/
)
log.info("encoder %s at %s: sha256 %s (expected %s), %s hidden %s, vocabulary %s",
         info["kind"], info["path"], info["sha256"], info["expected_sha256"],
         info["model_type"], info["hidden_size"], info["vocab_size"])
io.write_json(smk.output.info, info)
