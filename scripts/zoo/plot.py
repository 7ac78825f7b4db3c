"""The zoo's figures: leaderboard over targets, robustness, and cost."""

import pandas as pd

from advtransfer import io
from advtransfer.jobs import start_job
from advtransfer.zoo import plots

smk, log = start_job(snakemake)  # noqa: F821
board = pd.read_csv(smk.input.board, sep="\t")
pairs = pd.read_csv(smk.input.robustness, sep="\t")
costs = pd.read_csv(smk.input.costs, sep="\t")
truth = smk.params.truth
for fig, png, svg in (
    (plots.leaderboard_figure(board, truth), smk.output.leaderboard, smk.output.leaderboard_svg),
    (plots.robustness_figure(pairs, board, truth), smk.output.robustness,
     smk.output.robustness_svg),
    (plots.cost_figure(costs), smk.output.cost, smk.output.cost_svg),
):
    io.save_figure(fig, png, "png", dpi=130)
    io.save_figure(fig, svg, "svg")
log.info("zoo figures written (%d measures)", board["measure"].nunique())
