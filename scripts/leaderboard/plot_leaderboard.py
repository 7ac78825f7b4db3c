"""Leaderboard figure: weighted tau with bootstrap intervals per measure, and cost."""

import pandas as pd

from advtransfer import io
from advtransfer.jobs import start_job
from advtransfer.leaderboard import figure

smk, log = start_job(snakemake)  # noqa: F821
board = pd.read_csv(smk.input.board, sep="\t")
n = int(board["n"].max())
fig = figure.leaderboard_figure(
    board, title=f"{smk.wildcards.board}: which measure ranks the {n} sources by transfer accuracy",
)
io.save_figure(fig, smk.output.figure, "png", dpi=130)
io.save_figure(fig, smk.output.figure_svg, "svg")
log.info("leaderboard figure written (%d measures)", board["measure"].nunique())
