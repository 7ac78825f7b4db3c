"""Merge the candidates' adversarial rows and probe table into results/byo/transfer.tsv."""

import pandas as pd

from advtransfer import io
from advtransfer.byo import stages
from advtransfer.jobs import start_job

smk, log = start_job(snakemake)  # noqa: F821
adv = pd.concat([pd.read_csv(p, sep="\t") for p in smk.input.adversarial], ignore_index=True)
table = stages.merge_transfer(pd.read_csv(smk.input.candidates, sep="\t"), adv,
                              pd.read_csv(smk.input.probes, sep="\t"))
io.write_tsv(smk.output.transfer, table)
log.info("transfer table of %d candidates:\n%s", len(table),
         table[["model", "probe_accuracy", "kshot_accuracy", "cross_adv_loss", "tau1"]])
