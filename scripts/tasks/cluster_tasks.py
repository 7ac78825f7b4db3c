"""Task trees of the ATMs and the affinity; entropy / ARI against categories for k = 1..N."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

import pandas as pd  # noqa: E402

from advtransfer import io, tasktables  # noqa: E402

smk = snakemake  # noqa: F821
log = io.setup_logging(smk.log[0])
tree, categories = smk.params.tree, smk.params.categories
atms = tasktables.split_matrix_table(pd.read_csv(smk.input.atm, sep="\t"))
affinity = tasktables.split_matrix_table(pd.read_csv(smk.input.affinity, sep="\t"))[None]
entropy, clusters = tasktables.agreement_tables(atms, affinity, categories, tree)
k = min(tree["report_k"], len(affinity.columns))
for (name, eps), sub in clusters[clusters["k"] == k].groupby(["tree", "eps"], dropna=False):
    groups = sub.groupby("cluster")["task"].apply(list).tolist()
    log.info("%s tree (eps %s), k = %d: %s", name, eps, k, groups)
log.info("entropy / ARI at k = %d:\n%s", k, entropy[entropy["k"] == k].to_string(index=False))
io.write_tsv(smk.output.entropy, entropy)
io.write_tsv(smk.output.clusters, clusters)
