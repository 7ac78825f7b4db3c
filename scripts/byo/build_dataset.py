"""Read the target image folder, resize, and split it into train / val / test (stratified)."""

from advtransfer.byo import stages
from advtransfer.images import imagesets
from advtransfer.jobs import start_job

smk, log = start_job(snakemake)  # noqa: F821
arrays, meta = stages.build_target(smk.params.target, log)
imagesets.save_imageset(smk.output.data, arrays, meta)
