"""Figure 4 (task trees, adversarial and knowledge, side by side) and Figure 5 (entropy vs k)."""

import pandas as pd

from advtransfer import io
from advtransfer.jobs import start_job
from advtransfer.tasks import plots, tables

smk, log = start_job(snakemake)  # noqa: F821
tree, categories, attack = smk.params.tree, smk.params.categories, smk.params.attack
atms = tables.split_matrix_table(pd.read_csv(smk.input.atm, sep="\t"))
affinity = tables.split_matrix_table(pd.read_csv(smk.input.affinity, sep="\t"))[None]
entropy = pd.read_csv(smk.input.entropy, sep="\t")
tasks = list(affinity.columns)
trees = [(f"adversarial transferability\n(PGD L∞ eps = {eps:g}, {attack['steps']} steps)",
          tables.tree_of(m, tree["method"], tree["normalise_columns"]))
         for eps, m in sorted(atms.items())]
trees.append(("knowledge transferability\n(affinity)",
              tables.tree_of(affinity, tree["method"], tree["normalise_columns"])))
name = smk.params.dataset
norm = "column-normalised " if tree["normalise_columns"] else ""
fig4 = plots.figure4(
    trees, tasks, categories, cut_k=min(tree["report_k"], len(tasks)),
    title=f"{name}: task trees ({tree['method']} linkage of {norm}source columns)\n"
          f"self-transfer: ATM {smk.params.self_transfer['adversarial']}, "
          f"affinity {smk.params.self_transfer['knowledge']}",
)
fig5 = plots.figure5(entropy, title=f"{name}: agreement of task trees with task categories")
for fig, png, svg in ((fig4, smk.output.figure4, smk.output.figure4_svg),
                      (fig5, smk.output.figure5, smk.output.figure5_svg)):
    io.save_figure(fig, png, "png", dpi=130)
    io.save_figure(fig, svg, "svg")
log.info("figures written for %d tasks", len(tasks))
