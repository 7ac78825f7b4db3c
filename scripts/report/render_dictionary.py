"""The data dictionary (schemas/outputs.yaml) as an HTML page for the report."""

from pathlib import Path

from advtransfer import datadict, io
from advtransfer.jobs import start_job

smk, log = start_job(snakemake)  # noqa: F821
dictionary = datadict.load(smk.input.dictionary)
with io.atomic_path(smk.output.page) as tmp:
    Path(tmp).write_text(datadict.dictionary_html(dictionary))
log.info("%d column definitions, %d tables", len(dictionary["columns"]), len(dictionary["tables"]))
