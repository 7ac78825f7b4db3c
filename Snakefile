# advtransfer: does adversarial transferability indicate knowledge transferability?
#
# Output grammar: results/<scenario>/<stage>/<entity wildcards>/<name>.<ext>
#   results/synthetic/data/rbf.safetensors         generated RBF regression data
#   results/synthetic/models/<model>.safetensors   trained sigmoid MLPs (+ .json sidecar)
#   results/synthetic/sweep/<set>.tsv              sweep over t for one set of sources
#   results/synthetic/sweep.tsv, figure2.png/.svg  paper Figure 2
# Logs mirror outputs under logs/, benchmarks under benchmarks/runs/.


from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/synthetic.smk"
include: "rules/distributions.smk"
include: "rules/transfer.smk"
include: "rules/tasks.smk"
include: "rules/attributes.smk"
include: "rules/nlp.smk"
include: "rules/leaderboard.smk"
include: "rules/byo.smk"


# Cheap CPU steps (summary tables, figures) carry `localrule: True`: they run where
# Snakemake runs, never as cluster jobs.
rule all:
    default_target: True
    input:
        get_final_outputs(),
    localrule: True
