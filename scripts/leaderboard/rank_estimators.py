"""Rank every estimator and adversarial measure against the probe accuracy; add their cost."""

import pandas as pd

from advtransfer import io
from advtransfer.core import scoring, stats
from advtransfer.jobs import start_job

smk, log = start_job(snakemake)  # noqa: F821
layout, truth = smk.params.costs, list(smk.params.truth)


def bench_s(path):
    """Wall-clock seconds of a Snakemake benchmark file."""
    return float(pd.read_csv(path, sep="\t")["s"].iloc[0])


scores = pd.read_csv(smk.input.scores, sep="\t")
transfer = pd.read_csv(smk.input.transfer, sep="\t")
adversarial, names = smk.params.adversarial, smk.params.estimators
truths = [t for t in truth if t in transfer]
if not truths:
    raise ValueError(f"{smk.input.transfer} has none of the truth columns {truth}; "
                     "fix scoring.truth")
if len(truths) < len(truth):
    log.warning("%s lacks truth columns %s; ranking against %s", smk.input.transfer,
                sorted(set(truth) - set(truths)), truths)
table = scoring.source_table(scores, transfer, adversarial=adversarial, truths=truths)
# the scenario's inference settings (groups, seeds, primary hypothesis), so that this
# leaderboard and the scenario's correlation.tsv give the same intervals for a pair
settings = stats.inference_settings(smk.params.inference)
extra = [c for c in (settings["group_col"], *(f"{t}_se" for t in truths))
         if c and c in transfer and c not in table]
if settings["group_col"] and settings["group_col"] not in transfer:
    log.warning("%s has no group column %r; resampling single sources",
                smk.input.transfer, settings["group_col"])
    settings["group_col"] = None
if extra:
    table = table.merge(transfer[["model", *extra]], on="model", validate="one_to_one")
if settings["primary"] and settings["primary"][0] not in [*adversarial, *names] \
        and settings["primary"][0] in transfer:
    # the scenario's primary measure under another name (a column of transfer.tsv that
    # ranks like one of the leaderboard's measures): the leaderboard row that ranks alike
    probe = table[["model"]].merge(transfer[["model", settings["primary"][0]]], on="model")
    twin = stats.rank_duplicates(pd.concat([table, probe[[settings["primary"][0]]]], axis=1),
                                 [*adversarial, settings["primary"][0]])
    settings["primary"] = (twin.get(settings["primary"][0], settings["primary"][0]),
                           settings["primary"][1])
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
# baselines (model size, source accuracy, a random ranking), where the scores have them
measures.update({b: "baseline" for b in scoring.BASELINES if b in table})
ranking = {"random_draws": 1000, **smk.params.ranking,
           **{k: settings[k] for k in ("n_boot", "n_perm", "seed") if smk.params.inference}}
board = scoring.rank_measures(table, measures, truths, costs, group_col=settings["group_col"],
                              primary=settings["primary"], **ranking)
board.insert(0, "scenario", smk.wildcards.board)
io.write_tsv(smk.output.board, board)
log.info("leaderboard:\n%s", board[["truth", "measure", "weighted_tau", "weighted_tau_lo",
                                     "weighted_tau_hi", "spearman", "spearman_p", "p_holm",
                                     "primary", "duplicate_of", "degenerate", "cost_s",
                                     "compute_s"]].to_string())
