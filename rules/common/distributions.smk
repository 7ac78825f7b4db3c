# Experiment tables and input functions of the distributions scenario (rules/distributions.smk).
from advtransfer.distributions.sources import (
    source_dataset_name,
    source_percentages,
)  # noqa: E402


def distribution_sources():
    """Source models: {model: {"dataset", "seed", "label"}}, e.g. p025_s1 -> p025, seed 1."""
    cfg = config["distributions"]
    group = cfg["groups"][cfg["target_group"]]
    other = next(g for g in cfg["groups"] if g != cfg["target_group"])
    table = {}
    for percent in source_percentages(len(group)):
        dataset = source_dataset_name(percent)
        for seed in cfg["source_seeds"]:
            label = f"{percent} % {other}"
            table[f"{dataset}_s{seed}"] = {
                "dataset": dataset,
                "seed": seed,
                "label": label,
            }
    return table


def distribution_datasets():
    """Data sets built for the distributions scenario (sources, then the target)."""
    cfg = config["distributions"]
    group = cfg["groups"][cfg["target_group"]]
    names = [source_dataset_name(p) for p in source_percentages(len(group))]
    return names + ["target"]


def distributions_outputs():
    """Products of the distributions scenario (rule all)."""
    return image_scenario_outputs("distributions")
