"""Leaderboard figure: weighted tau with bootstrap intervals per measure, and cost."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

import pandas as pd  # noqa: E402

from advtransfer import io, leaderboard_figure  # noqa: E402

smk = snakemake  # noqa: F821
log = io.setup_logging(smk.log[0])
board = pd.read_csv(smk.input.board, sep="\t")
n = int(board["n"].max())
fig = leaderboard_figure.leaderboard_figure(
    board, title=f"{smk.wildcards.board}: which measure ranks the {n} sources by transfer accuracy",
)
with io.atomic_path(smk.output.figure) as tmp:
    fig.savefig(tmp, dpi=130, format="png")
with io.atomic_path(smk.output.figure_svg) as tmp:
    fig.savefig(tmp, format="svg")
log.info("leaderboard figure written (%d measures)", board["measure"].nunique())
