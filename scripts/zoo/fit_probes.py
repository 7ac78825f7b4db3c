"""Knowledge transferability of every zoo source to one target task (full and k-shot probes)."""

from advtransfer import io
from advtransfer.core.modelutils import pick_device
from advtransfer.jobs import start_job
from advtransfer.zoo import experiment

smk, log = start_job(snakemake)  # noqa: F821
device = pick_device("auto")
models = dict(zip(smk.params.models, smk.input.models))
table = experiment.probe_rows(models, smk.input.data, smk.params.probe, device)
table.insert(1, "target", smk.wildcards.target)
log.info("probes on %s:\n%s", smk.wildcards.target,
         table[["model", "probe_accuracy", "probe_C", "kshot_accuracy"]].to_string())
io.write_tsv(smk.output.table, table)
