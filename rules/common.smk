# Workflow-side Python: config validation, experiment tables, input functions.
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from advtransfer.config import load_schema, validate_config  # noqa: E402
from advtransfer.distributions import (  # noqa: E402
    source_dataset_name,
    source_percentages,
)

validate_config(
    config, load_schema(Path(workflow.basedir) / "schemas/config.schema.yaml")
)

SYNTHETIC_MODELS = ["target", "independent"]
SYNTHETIC_SETS = ["derived", "independent"]
#: Scenarios built from the shared image stages of rules/transfer.smk.
IMAGE_SCENARIOS = ["distributions"]
REFERENCE = "reference"


wildcard_constraints:
    mlp="|".join(SYNTHETIC_MODELS),
    set="|".join(SYNTHETIC_SETS),
    scenario="|".join(IMAGE_SCENARIOS),
    model="[A-Za-z0-9_]+",
    dataset="[A-Za-z0-9_]+",


# ---------------------------------------------------------------- experiment tables


def distribution_sources():
    """Source models of the distributions scenario: {model: (dataset, seed)}."""
    cfg = config["distributions"]
    group = cfg["groups"][cfg["target_group"]]
    table = {}
    for percent in source_percentages(len(group)):
        for seed in cfg["source_seeds"]:
            dataset = source_dataset_name(percent)
            table[f"{dataset}_s{seed}"] = (dataset, seed)
    return table


def distribution_datasets():
    """Data sets built for the distributions scenario (sources, then the target)."""
    cfg = config["distributions"]
    group = cfg["groups"][cfg["target_group"]]
    names = [source_dataset_name(p) for p in source_percentages(len(group))]
    return names + ["target"]


def image_sources(scenario):
    """Source models of an image scenario: {model: (dataset, seed)}."""
    if scenario == "distributions":
        return distribution_sources()
    raise ValueError(f"unknown image scenario {scenario}")


def image_model_table(scenario):
    """Every model of an image scenario, reference included: {model: (dataset, seed)}."""
    table = dict(image_sources(scenario))
    table[REFERENCE] = ("target", config[scenario]["reference_seed"])
    return table


# ---------------------------------------------------------------- targets


def get_final_outputs():
    """Every product of the scenarios listed under `scenarios` in the config."""
    outputs = []
    if "synthetic" in config["scenarios"]:
        outputs += [
            "results/synthetic/sweep.tsv",
            "results/synthetic/figure2.png",
            "results/synthetic/figure2.svg",
        ]
    for scenario in IMAGE_SCENARIOS:
        if scenario in config["scenarios"]:
            outputs += expand(
                "results/{scenario}/{name}",
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
    return outputs


# ---------------------------------------------------------------- input functions


def get_synthetic_model_params(wildcards):
    """Training settings of one synthetic MLP (target or independent source)."""
    return config["synthetic"][wildcards.mlp]


def get_sweep_models(wildcards):
    """The target, plus the independently trained start point for the second set."""
    models = {"target": "results/synthetic/models/target.safetensors"}
    if wildcards.set == "independent":
        models["start"] = "results/synthetic/models/independent.safetensors"
    return models


def get_training_data(wildcards):
    """The data set a model of an image scenario is trained on."""
    table = image_model_table(wildcards.scenario)
    if wildcards.model not in table:
        raise ValueError(
            f"unknown model {wildcards.model!r} in scenario {wildcards.scenario}; "
            f"known: {', '.join(table)}"
        )
    dataset, _ = table[wildcards.model]
    return f"results/{wildcards.scenario}/data/{dataset}.safetensors"


def get_training_seed(wildcards):
    """The seed of one model of an image scenario."""
    return image_model_table(wildcards.scenario)[wildcards.model][1]


def get_scenario_section(wildcards):
    """The config section of the wildcard's scenario."""
    return config[wildcards.scenario]


def get_source_tables(wildcards):
    """Per-source adversarial and probe rows of an image scenario."""
    models = list(image_sources(wildcards.scenario))
    return {
        "adversarial": expand(
            "results/{scenario}/adversarial/{model}.tsv",
            scenario=wildcards.scenario,
            model=models,
        ),
        "probe": expand(
            "results/{scenario}/probe/{model}.tsv",
            scenario=wildcards.scenario,
            model=models,
        ),
    }


def get_source_info(wildcards):
    """Per-source description for the summary: {model: {dataset, seed, label}}."""
    info = {}
    cfg = config[wildcards.scenario]
    for model, (dataset, seed) in image_sources(wildcards.scenario).items():
        label = dataset
        if wildcards.scenario == "distributions":
            other = next(g for g in cfg["groups"] if g != cfg["target_group"])
            label = f"{int(dataset[1:])} % {other}"
        info[model] = {"dataset": dataset, "seed": seed, "label": label}
    return info
