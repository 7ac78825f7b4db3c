"""Every final result table as an HTML page for the report (units from the data dictionary)."""

from pathlib import Path

import pandas as pd

from advtransfer import datadict, io
from advtransfer.jobs import start_job

smk, log = start_job(snakemake)  # noqa: F821
dictionary = datadict.load(smk.input.dictionary)
for source, page in zip(smk.input.tables, smk.output.pages, strict=True):
    table = pd.read_csv(source, sep="\t")
    entry = (datadict.table_entry(dictionary, source) or ("", {}))[1]
    undocumented = [c for c in table.columns if datadict.column_spec(dictionary, entry, c) is None]
    if undocumented:
        log.warning("%s: columns not in %s: %s", source, smk.input.dictionary,
                    ", ".join(undocumented))
    with io.atomic_path(page) as tmp:
        Path(tmp).write_text(datadict.table_html(table, source, dictionary))
    log.info("%s: %d rows, %d columns", page, len(table), len(table.columns))
