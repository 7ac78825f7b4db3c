"""Load and run every candidate model once; list them with the estimated cost of measuring
them (a WARNING for many outputs or large inputs), or stop with every problem at once."""

from advtransfer import io
from advtransfer.byo import candidates
from advtransfer.jobs import start_job

smk, log = start_job(snakemake)  # noqa: F821
table = candidates.check_candidates(
    smk.params.specs, smk.params.shape, jacobian_points=smk.params.jacobian_points,
    attack=smk.params.attack, log=log,
)
io.write_tsv(smk.output.table, table)
