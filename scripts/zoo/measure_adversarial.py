"""One zoo source against every target task: its PGD images and adversarial measures."""

from advtransfer import io
from advtransfer.core.modelutils import pick_device
from advtransfer.images import architectures
from advtransfer.jobs import start_job
from advtransfer.zoo import experiment

smk, log = start_job(snakemake)  # noqa: F821
device = pick_device("auto")
source, _ = architectures.load_model(smk.input.source)
targets = list(zip(smk.params.targets, smk.input.data, smk.input.references,
                   smk.input.reference_attacks))
table = experiment.adversarial_rows(source.to(device), targets, smk.params.attack,
                                    smk.params.jacobian, device)
table.insert(0, "model", smk.wildcards.model)
for row in table.to_dict("records"):
    log.info("%s -> reference of %s: %s", smk.wildcards.model, row["target"], row)
io.write_tsv(smk.output.rows, table)
