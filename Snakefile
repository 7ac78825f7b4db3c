# advtransfer: does adversarial transferability indicate knowledge transferability?
#
# Output grammar: results/<run>/<scenario>/<stage>/<entity wildcards>/<name>.<ext>, with
# <run> the config's `run` (default: "default"), e.g.
#   results/default/synthetic/data/rbf.safetensors         generated RBF regression data
#   results/default/synthetic/models/<model>.safetensors   trained sigmoid MLPs (+ .json)
#   results/default/synthetic/sweep/<set>.tsv              sweep over t for one set of sources
#   results/default/synthetic/sweep.tsv, figure2.png/.svg  paper Figure 2
# Logs mirror outputs under logs/<run>/, benchmarks under benchmarks/runs/<run>/.


import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")

# An empty or malformed config.yaml stops here naming the file and the line (Snakemake's
# own message names neither). Files given with --configfile are read by Snakemake itself
# before this Snakefile.
sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from advtransfer.config import check_config_file  # noqa: E402

if Path("config.yaml").is_file():
    check_config_file("config.yaml")


configfile: "config.yaml"


# The report opens on the findings once rule write_findings has written its front page
# (report/workflow.rst followed by the findings of this run); before that, on workflow.rst.
# An absolute path: the page lives in the working directory, not beside this Snakefile.
FRONT_PAGE = Path("results", str(config.get("run", "default")), "report_front.rst")


report: str(FRONT_PAGE.resolve()) if FRONT_PAGE.is_file() else "report/workflow.rst"


include: "rules/common.smk"
include: "rules/synthetic.smk"
include: "rules/distributions.smk"
include: "rules/transfer.smk"
include: "rules/tasks.smk"
include: "rules/attributes.smk"
include: "rules/nlp.smk"
include: "rules/leaderboard.smk"
include: "rules/byo.smk"
include: "rules/zoo.smk"
include: "rules/findings.smk"


# Cheap CPU steps (summary tables, figures) carry `localrule: True`: they run where
# Snakemake runs, never as cluster jobs.
rule all:
    default_target: True
    input:
        get_final_outputs(),
    localrule: True
