"""Leaderboard of the zoo per target and over targets, its robustness, and each measure's
needs and cost."""

import pandas as pd

from advtransfer import io
from advtransfer.core import robustness
from advtransfer.jobs import start_job
from advtransfer.zoo import tables

smk, log = start_job(snakemake)  # noqa: F821
p = smk.params
transfer = pd.read_csv(smk.input.transfer, sep="\t")
truths = [t for t in p.truth if t in transfer]
kinds = tables.measure_kinds(transfer, p.estimators, p.adversarial)
rob = dict(p.robustness)
common = {"target_col": "target", "model_col": "model", "size_col": "param_count",
          "largest_fraction": rob["largest_fraction"]}
robust = robustness.measure_robustness(transfer, kinds, truths[0], **common)
pairs = robustness.pairwise_robustness(
    transfer, kinds, truths[0], subset_sizes=tuple(rob["subset_sizes"]),
    n_subsets=rob["n_subsets"], seed=rob["seed"], **common)
board = tables.zoo_leaderboard(transfer, kinds, truths, ranking=p.ranking, robust=robust)
estimator_tables = [pd.read_csv(path, sep="\t") for path in smk.input.estimators]
costs = tables.measure_costs(kinds, board, estimator_tables=estimator_tables,
                             benchmarks={k: list(smk.input[f"{k}_bench"]) for k in
                                         ("adversarial", "reference", "estimator")},
                             truth=truths[0])
io.write_tsv(smk.output.board, board)
io.write_tsv(smk.output.robustness, pairs.assign(truth=truths[0]))
io.write_tsv(smk.output.costs, costs)
mean = board[(board["target"] == "mean") & (board["truth"] == truths[0])]
log.info("over targets (%s):\n%s", truths[0], mean[["measure", "kind", "weighted_tau",
                                                    "weighted_tau_lo", "weighted_tau_hi"]]
         .to_string())
