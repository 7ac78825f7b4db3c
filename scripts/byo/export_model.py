"""Export a model the workflow wrote as a torch.export program or TorchScript archive, a
candidate of that format (`export_from` in byo.models; used by the byo example)."""

from advtransfer.byo import export
from advtransfer.images import sources
from advtransfer.jobs import start_job

smk, log = start_job(snakemake)  # noqa: F821
spec = smk.params.spec
model = sources.load_source({"name": spec["name"], "format": "advtransfer",
                             "file": smk.input.model})
save = export.save_export if spec["format"] == "export" else export.save_torchscript
save(model, smk.output.model, smk.params.shape)
log.info("%s: %s written as %s to %s", spec["name"], smk.input.model, spec["format"],
         smk.output.model)
