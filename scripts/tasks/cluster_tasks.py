"""Task trees of the ATMs, the affinity and the tau matrix; entropy / ARI for k = 1..N."""

import pandas as pd

from advtransfer import io
from advtransfer.jobs import start_job
from advtransfer.tasks import tables

smk, log = start_job(snakemake)  # noqa: F821
tree, categories = smk.params.tree, smk.params.categories
atms = tables.split_matrix_table(pd.read_csv(smk.input.atm, sep="\t"))
affinity = tables.split_matrix_table(pd.read_csv(smk.input.affinity, sep="\t"))[None]
taus = tables.split_tau_table(pd.read_csv(smk.input.tau, sep="\t"))
entropy, clusters = tables.agreement_tables(atms, affinity, categories, tree, taus)
k = min(tree["report_k"], len(affinity.columns))
for (name, eps), sub in clusters[clusters["k"] == k].groupby(["tree", "eps"], dropna=False):
    groups = sub.groupby("cluster")["task"].apply(list).tolist()
    log.info("%s tree (eps %s), k = %d: %s", name, eps, k, groups)
log.info("entropy / ARI at k = %d:\n%s", k, entropy[entropy["k"] == k].to_string(index=False))
io.write_tsv(smk.output.entropy, entropy)
io.write_tsv(smk.output.clusters, clusters)
