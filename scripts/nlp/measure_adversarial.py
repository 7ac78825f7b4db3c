"""Adversarial transferability from one text source to the reference (one TSV row)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

import pandas as pd  # noqa: E402
import torch  # noqa: E402

from advtransfer import io, text_models, text_transfer, training  # noqa: E402

smk = snakemake  # noqa: F821
log = io.setup_logging(smk.log[0])
text_models.set_offline()
torch.set_num_threads(smk.threads)
device = training.pick_device("auto")
source, _ = text_models.load_classifier(smk.input.source, device=device)
reference, _ = text_models.load_classifier(smk.input.reference, device=device)
read = {"keep_default_na": False, "sep": "\t"}
row = text_transfer.text_adversarial_measures(
    source, reference, pd.read_csv(smk.input.adv_source, **read),
    pd.read_csv(smk.input.adv_reference, **read), jacobian_points=smk.params.jacobian_points,
    batch_size=smk.params.batch_size,
)
log.info("%s -> reference: %s", smk.wildcards.model, row)
io.write_tsv(smk.output.row, pd.DataFrame([{"model": smk.wildcards.model, **row}]))
