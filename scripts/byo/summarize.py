"""Merge the candidates' adversarial rows and probe table into results/byo/transfer.tsv."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

import pandas as pd  # noqa: E402

from advtransfer import io  # noqa: E402

smk = snakemake  # noqa: F821
log = io.setup_logging(smk.log[0])
adv = pd.concat([pd.read_csv(p, sep="\t") for p in smk.input.adversarial], ignore_index=True)
probe = pd.read_csv(smk.input.probes, sep="\t")
info = pd.read_csv(smk.input.candidates, sep="\t")[["model", "label", "format", "arch"]]
table = info.merge(adv, on="model", validate="one_to_one").merge(
    probe, on="model", validate="one_to_one")
io.write_tsv(smk.output.transfer, table)
log.info("transfer table of %d candidates:\n%s", len(table),
         table[["model", "probe_accuracy", "kshot_accuracy", "cross_adv_loss", "tau1"]])
