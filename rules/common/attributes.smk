# Experiment tables and input functions of the attributes scenario (rules/attributes.smk).
from advtransfer.attributes.experiment import (
    attribute_label_key,
    attribute_names,
    check_config,
    check_inputs,
)  # noqa: E402

if "attributes" in config["scenarios"]:
    # unknown attributes, and missing CelebA files or .bin benchmarks, stop the run when the
    # DAG is built (with `download: true` the build job fetches CelebA instead)
    if config["attributes"]["download"]:
        check_config(config["attributes"])
    else:
        check_inputs(config["attributes"])


def attribute_sources():
    """Source models: {model: {"dataset", "seed", "label", "labels"}}, e.g. even_s0 learns
    attr_even of the target images with seed 0."""
    cfg = config["attributes"]
    table = {}
    for name in attribute_names(cfg):
        for seed in cfg["source_seeds"]:
            table[f"{name}_s{seed}"] = {
                "dataset": "target",
                "seed": seed,
                "label": name,
                "labels": attribute_label_key(name),
            }
    return table


def get_attribute_sources(wildcards):
    """The source table, for the summary (evaluated only when the scenario runs)."""
    return attribute_sources()


def attributes_at_paper_scale():
    """True for CelebA (large data build), False for the embedded digits default."""
    return config["attributes"]["dataset"] == "celeba"


def attribute_benchmarks():
    """Verification benchmarks (digits pairs or insightface .bin stems)."""
    return config["attributes"]["verification"]["benchmarks"]


def attribute_data_config():
    """The keys of the attributes section that the data sets depend on (params of the
    build, so that changing e.g. the attack does not rebuild the data)."""
    cfg = config["attributes"]
    keys = ["dataset", "data_root", "download", "image_size", "crop", "attributes"]
    keys += ["split_seed", "holdout", "split"]
    out = {key: cfg[key] for key in keys}
    # celeba: probe identities need >= 2k images, so k shapes the data too
    out["probe"] = {
        "identities": cfg["probe"]["identities"],
        "split": cfg["probe"]["split"],
        "kshot": {"k": cfg["probe"]["kshot"]["k"]},
    }
    out["verification"] = {
        k: cfg["verification"][k]
        for k in ("benchmarks", "bin_dir", "pairs", "seed", "folds")
    }
    return out


def get_attribute_pairs(wildcards):
    """Verification pair files of every benchmark."""
    return expand(
        result("attributes/data/pairs/{benchmark}.safetensors"),
        benchmark=attribute_benchmarks(),
    )


def get_attribute_tables(wildcards):
    """Per-source adversarial and recognition rows, and the reference's recognition row."""
    models = list(attribute_sources())
    return {
        "adversarial": expand(
            result("attributes/adversarial/{model}.tsv"), model=models
        ),
        "recognition": expand(
            result("attributes/recognition/{model}.tsv"), model=models
        ),
        "reference": result(f"attributes/recognition/{REFERENCE}.tsv"),
    }


def attributes_outputs():
    """Products of the attributes scenario (rule all)."""
    return expand(
        result("attributes/{name}"),
        name=[
            "transfer.tsv",
            "correlation.tsv",
            "table1.tsv",
            "table1.png",
            "table1.svg",
            "scatter.png",
            "scatter.svg",
        ],
    )
