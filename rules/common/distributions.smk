# Experiment tables and input functions of the distributions scenario (rules/distributions.smk).
from advtransfer.distributions.sources import (
    check_inputs as check_distribution_inputs,
    source_dataset_name,
    source_label,
    source_percentages,
)  # noqa: E402

if "distributions" in config["scenarios"]:
    # missing CIFAR-10 / STL-10 files stop the run when the DAG is built, not in a job
    check_distribution_inputs(config["distributions"])


def distribution_sources():
    """Source models: {model: {"dataset", "seed", "label"}}, e.g. p025_s1 -> p025, seed 1."""
    cfg = config["distributions"]
    group = cfg["groups"][cfg["target_group"]]
    other = next(g for g in cfg["groups"] if g != cfg["target_group"])
    table = {}
    for percent in source_percentages(len(group)):
        dataset = source_dataset_name(percent)
        for seed in cfg["source_seeds"]:
            label = source_label(percent, other, cfg["groups"][other], cfg["dataset"])
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


def distribution_data_config():
    """The keys of the distributions section that the data sets depend on (params of
    build_distribution_datasets, so that changing e.g. training or the correlation
    bootstrap does not rebuild the data). The CIFAR-10 / STL-10 location keys count only
    for that data set, the digits domain shift only for digits."""
    cfg = config["distributions"]
    keys = [
        "dataset",
        "groups",
        "target_group",
        "split_seed",
        "source_split",
        "target_split",
    ]
    if cfg["dataset"] == "digits":
        keys += ["domain_shift"]
    else:
        keys += ["data_root", "download", "image_size"]
    return {key: cfg[key] for key in keys}


def distributions_outputs():
    """Products of the distributions scenario (rule all)."""
    return image_scenario_outputs("distributions")
