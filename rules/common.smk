# Workflow-side Python: config validation, experiment tables, input functions.
# Each scenario's experiment table and input functions live in rules/common/<scenario>.smk
# (included first); the two literal mappings below wire them together: SCENARIO_OUTPUTS
# (what rule all asks of each scenario) and IMAGE_SOURCE_TABLES (the sources of the
# scenarios that use the shared image stages of rules/transfer.smk).
import os
import sys
from pathlib import Path

# The package lives in src/: parse-time imports need it on sys.path, and every job (local,
# --sdm conda, SLURM: sbatch exports the environment) inherits it through PYTHONPATH, so
# no script edits its path and a checkout without `pip install -e .` still runs.
SRC = str(Path(workflow.basedir) / "src")
if SRC not in sys.path:
    sys.path.insert(0, SRC)
if SRC not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
    # set for the jobs, not required of the user (so no `envvars:` directive)
    os.environ.update(
        PYTHONPATH=os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)
    )

from advtransfer.config import load_schema, validate_config  # noqa: E402
from advtransfer.distributions.sources import check_group_classes  # noqa: E402

#: Checks that need a scenario's knowledge, run after the schema (names key and fix).
SCENARIO_CHECKS = [check_group_classes]

validate_config(
    config,
    load_schema(Path(workflow.basedir) / "schemas/config.schema.yaml"),
    checks=SCENARIO_CHECKS,
)

REFERENCE = "reference"

#: The run's name (config key `run`, "default" unless a config sets it): every output of a
#: run lives under results/<run>/, its logs under logs/<run>/ and its benchmarks under
#: benchmarks/runs/<run>/, so that two configs never overwrite each other's results.
RUN = config["run"]


def result(path):
    """`path` (relative, may hold wildcards) under this run's results folder."""
    return f"results/{RUN}/{path}"


def logfile(path):
    """`path` under this run's logs folder."""
    return f"logs/{RUN}/{path}"


def benchfile(path):
    """`path` under this run's benchmarks folder (Snakemake's benchmark: files)."""
    return f"benchmarks/runs/{RUN}/{path}"


include: "common/synthetic.smk"
include: "common/distributions.smk"
include: "common/tasks.smk"
include: "common/attributes.smk"
include: "common/nlp.smk"
include: "common/leaderboard.smk"
include: "common/byo.smk"
include: "common/zoo.smk"
include: "common/findings.smk"


#: Final products of each scenario (the targets of the default rule), as
#: {scenario: function() -> [paths]}.
SCENARIO_OUTPUTS = {
    "synthetic": synthetic_outputs,
    "distributions": distributions_outputs,
    "attributes": attributes_outputs,
    "tasks": tasks_outputs,
    "nlp": nlp_outputs,
    "leaderboard": leaderboard_outputs,
    "byo": byo_outputs,
    "zoo": zoo_outputs,
}
#: Run-wide products after the scenarios' (rules/findings.smk), as
#: {name: function(scenario outputs) -> [paths]}: the findings page, an HTML page beside
#: every final table, and the data dictionary.
RUN_OUTPUTS = {
    "findings": findings_outputs,
    "table pages": table_page_outputs,
    "data dictionary": dictionary_outputs,
}
#: Sources of the scenarios that use the shared image stages of rules/transfer.smk:
#: {scenario: function() -> {model: {"dataset", "seed", "label"}}}.
IMAGE_SOURCE_TABLES = {
    "distributions": distribution_sources,
    "attributes": attribute_sources,
}
#: Scenarios that use the shared image stages of rules/transfer.smk.
IMAGE_SCENARIOS = list(IMAGE_SOURCE_TABLES)


wildcard_constraints:
    scenario="|".join(IMAGE_SCENARIOS),
    model="[A-Za-z0-9_]+",
    dataset="[A-Za-z0-9_]+",


# ---------------------------------------------------------------- targets


def get_final_outputs():
    """Every product of the scenarios listed under `scenarios` in the config, then the
    run-wide pages (RUN_OUTPUTS: findings, table pages, data dictionary).

    See SCENARIO_OUTPUTS; each function lives in rules/common/<scenario>.smk.
    """
    outputs = scenario_outputs()
    run_wide = []
    for products in RUN_OUTPUTS.values():
        run_wide += products(outputs)
    return outputs + run_wide


def scenario_outputs():
    """The products of the scenarios listed under `scenarios` (SCENARIO_OUTPUTS)."""
    outputs = []
    for scenario in config["scenarios"]:
        outputs += SCENARIO_OUTPUTS[scenario]()
    return outputs


def image_scenario_outputs(scenario):
    """Summary tables and figures of an image scenario (rules/transfer.smk)."""
    return expand(
        result("{scenario}/{name}"),
        scenario=scenario,
        name=[
            "transfer.tsv",
            "correlation.tsv",
            "figure3.png",
            "figure3.svg",
            "scatter.png",
            "scatter.svg",
        ],
    )


# ---------------------------------------------------------------- image scenarios


def image_sources(scenario):
    """Source models of an image scenario: {model: {"dataset", "seed", "label"}}."""
    if scenario not in IMAGE_SOURCE_TABLES:
        raise ValueError(f"scenario {scenario} registers no source table")
    return IMAGE_SOURCE_TABLES[scenario]()


def image_model_table(scenario):
    """Every model of an image scenario, reference included."""
    table = dict(image_sources(scenario))
    table[REFERENCE] = {
        "dataset": "target",
        "seed": config[scenario]["reference_seed"],
        "label": REFERENCE,
    }
    return table


def get_training_data(wildcards):
    """The data set a model of an image scenario is trained on."""
    table = image_model_table(wildcards.scenario)
    if wildcards.model not in table:
        raise ValueError(
            f"unknown model {wildcards.model!r} in scenario {wildcards.scenario}; "
            f"known: {', '.join(table)}"
        )
    return result(
        f"{wildcards.scenario}/data/{table[wildcards.model]['dataset']}.safetensors"
    )


def get_training_seed(wildcards):
    """The seed of one model of an image scenario."""
    return image_model_table(wildcards.scenario)[wildcards.model]["seed"]


def get_attack_setting(wildcards):
    """The attack keys a figure title names (eps, steps) of the wildcard's scenario."""
    attack = config[wildcards.scenario]["attack"]
    return {"eps": attack["eps"], "steps": attack["steps"]}


def get_source_info(wildcards):
    """Per-source description for the summary: {model: {dataset, seed, label}}."""
    return image_sources(wildcards.scenario)


def get_source_tables(wildcards):
    """Per-source adversarial and probe rows of an image scenario."""
    models = list(image_sources(wildcards.scenario))
    return {
        "adversarial": expand(
            result("{scenario}/adversarial/{model}.tsv"),
            scenario=wildcards.scenario,
            model=models,
        ),
        "probe": expand(
            result("{scenario}/probe/{model}.tsv"),
            scenario=wildcards.scenario,
            model=models,
        ),
    }


#: Training jobs of image data sets larger than the defaults allow (4 GB, 60 min):
#: {dataset: (mem_mb, runtime in minutes)}. CelebA's train partition is ~6 GB as uint8
#: 112 x 112 crops, kept as uint8 in memory; 14 epochs of ResNet-18 on one GPU.
LARGE_TRAINING = {"celeba": (16000, 360)}


def _training_budget(wildcards):
    """(mem_mb, runtime in minutes) of one train_classifier job of the scenario."""
    return LARGE_TRAINING.get(config[wildcards.scenario]["dataset"], (4000, 60))


def training_mem_mb(wildcards):
    return _training_budget(wildcards)[0]


def training_runtime(wildcards):
    return _training_budget(wildcards)[1]
