"""Rank every estimator and adversarial measure against the probe accuracy; add their cost."""

import pandas as pd

from advtransfer import io
from advtransfer.core import scoring
from advtransfer.jobs import start_job

smk, log = start_job(snakemake)  # noqa: F821
cfg, layout = smk.params.cfg, smk.params.costs


def bench_s(path):
    """Wall-clock seconds of a Snakemake benchmark file."""
    return float(pd.read_csv(path, sep="\t")["s"].iloc[0])


scores = pd.read_csv(smk.input.scores, sep="\t")
transfer = pd.read_csv(smk.input.transfer, sep="\t")
adversarial, names = cfg["adversarial"], cfg["estimators"]
truths = [t for t in cfg["truth"] if t in transfer]
if not truths:
    raise ValueError(f"{smk.input.transfer} has none of the truth columns {cfg['truth']}; "
                     "fix scoring.truth")
if len(truths) < len(cfg["truth"]):
    log.warning("%s lacks truth columns %s; ranking against %s", smk.input.transfer,
                sorted(set(cfg["truth"]) - set(truths)), truths)
table = scoring.source_table(scores, transfer, adversarial=adversarial, truths=truths)
io.write_tsv(smk.output.sources, table)

# wall-clock cost of the jobs each measure needs (job start-up included, as they ran);
# the estimators' in-process computation is kept apart in compute_s
costs = scoring.estimator_costs(scores, names, bench_s(smk.input.score_benchmark))
adv = scoring.adversarial_cost(
    {m: [bench_s(p) for p in paths] for m, paths in layout["per_source"].items()},
    [bench_s(p) for p in layout["fixed"]],
)
costs.update({name: adv for name in adversarial})
measures = {**{n: "estimator" for n in names}, **{a: "adversarial" for a in adversarial}}
board = scoring.rank_measures(table, measures, truths, costs, **cfg["ranking"])
board.insert(0, "scenario", smk.wildcards.board)
io.write_tsv(smk.output.board, board)
log.info("leaderboard:\n%s", board[["truth", "measure", "weighted_tau", "weighted_tau_lo",
                                     "weighted_tau_hi", "cost_s", "compute_s"]].to_string())
