"""Knowledge transferability of one text source: linear probe on the frozen encoder."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

import pandas as pd  # noqa: E402
import torch  # noqa: E402

from advtransfer import io, text_data, text_models, text_transfer, training  # noqa: E402

smk = snakemake  # noqa: F821
log = io.setup_logging(smk.log[0])
text_models.set_offline()
torch.set_num_threads(smk.threads)
device = training.pick_device("auto")
source, meta = text_models.load_classifier(smk.input.source, device=device)
data = text_data.read_dataset(smk.input.data)
row = text_transfer.text_knowledge_measures(
    source, text_data.split_texts(data, "train"), text_data.split_texts(data, "test"),
    num_classes=len(io.read_json(smk.input.data_meta)["classes"]), probe=smk.params.probe,
    batch_size=smk.params.batch_size,
)
row.update(source_val_accuracy=meta["val_accuracy"], source_test_accuracy=meta["test_accuracy"])
log.info("%s: %s", smk.wildcards.model, row)
io.write_tsv(smk.output.row, pd.DataFrame([{"model": smk.wildcards.model, **row}]))
