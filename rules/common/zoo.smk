# Experiment tables and input functions of the model zoo scenario (rules/zoo.smk):
# sources of several architecture families, sizes and source data sets, ranked on several
# target tasks (advtransfer.zoo).
from advtransfer.zoo.data import zoo_sources as _zoo_source_table  # noqa: E402

ZOO_OUTPUTS = [
    "transfer.tsv",
    "leaderboard.tsv",
    "leaderboard_robustness.tsv",
    "measure_costs.tsv",
    "leaderboard.png",
    "leaderboard.svg",
    "robustness.png",
    "robustness.svg",
    "cost.png",
    "cost.svg",
]


def zoo_sources():
    """Source models of the zoo: {model: {"arch", "family", "size", "dataset", "seed", "label"}}."""
    return _zoo_source_table(config["zoo"])


def zoo_targets():
    """Names of the zoo's target tasks."""
    return list(config["zoo"]["targets"])


def zoo_reference(target):
    """Model name of the reference trained on one target task."""
    return f"{REFERENCE}_{target}"


def zoo_models():
    """Every model the zoo trains, references included: {model: entry}; an entry names
    the data set it is trained on (data/<data>.safetensors), its architecture and seed.
    """
    cfg = config["zoo"]
    table = {
        m: {**s, "data": f"source_{s['dataset']}"} for m, s in zoo_sources().items()
    }
    for target in zoo_targets():
        table[zoo_reference(target)] = {
            "arch": cfg["reference"]["arch"],
            "seed": cfg["reference"]["seed"],
            "data": f"target_{target}",
        }
    return table


def zoo_datasets():
    """Data sets built for the zoo: source_<name> and target_<name>."""
    cfg = config["zoo"]
    return [f"source_{d}" for d in cfg["datasets"]] + [
        f"target_{t}" for t in zoo_targets()
    ]


def zoo_outputs():
    """Products of the zoo scenario (rule all)."""
    return [result(f"zoo/{name}") for name in ZOO_OUTPUTS]


def _zoo_model_entry(wildcards):
    table = zoo_models()
    if wildcards.model not in table:
        raise ValueError(
            f"unknown zoo model {wildcards.model!r}; known: {', '.join(table)}"
        )
    return table[wildcards.model]


def get_zoo_training_data(wildcards):
    return result(f"zoo/data/{_zoo_model_entry(wildcards)['data']}.safetensors")


def get_zoo_training_setting(wildcards):
    """The train keys, architecture and seed of one zoo model (params of train_zoo_model)."""
    entry = _zoo_model_entry(wildcards)
    return {**config["zoo"]["train"], "arch": entry["arch"], "seed": entry["seed"]}


def get_zoo_targets(wildcards=None):
    """Per target task: its data, its reference and the reference's attack."""
    return {
        "data": expand(result("zoo/data/target_{t}.safetensors"), t=zoo_targets()),
        "references": [
            result(f"zoo/models/{zoo_reference(t)}.safetensors") for t in zoo_targets()
        ],
        "reference_attacks": [
            result(f"zoo/attacks/{zoo_reference(t)}.safetensors") for t in zoo_targets()
        ],
    }


def get_zoo_source_models(wildcards=None):
    return expand(result("zoo/models/{model}.safetensors"), model=list(zoo_sources()))


def get_zoo_source_specs(wildcards=None):
    """{model: spec} of the zoo's sources, as advtransfer.images.sources reads them."""
    return {
        m: {"name": m, "format": "advtransfer", "file": path}
        for m, path in zip(zoo_sources(), get_zoo_source_models())
    }


def get_zoo_tables(wildcards):
    """Every per-source and per-target table the zoo's summary joins."""
    return {
        "adversarial": expand(
            result("zoo/adversarial/{model}.tsv"), model=list(zoo_sources())
        ),
        "probes": expand(result("zoo/probes/{t}.tsv"), t=zoo_targets()),
        "estimators": expand(result("zoo/estimators/{t}.tsv"), t=zoo_targets()),
    }


def get_zoo_benchmarks(wildcards):
    """Benchmark files of the jobs behind each measure (the cost columns)."""
    return {
        "adversarial_bench": expand(
            benchfile("zoo/measure_zoo_adversarial/{model}.tsv"),
            model=list(zoo_sources()),
        ),
        "reference_bench": expand(
            benchfile("zoo/train_zoo_model/{model}.tsv"),
            model=[zoo_reference(t) for t in zoo_targets()],
        )
        + expand(
            benchfile("zoo/attack_zoo_reference/{t}.tsv"),
            t=zoo_targets(),
        ),
        "estimator_bench": expand(
            benchfile("zoo/score_zoo_estimators/{t}.tsv"), t=zoo_targets()
        ),
        "estimators": expand(result("zoo/estimators/{t}.tsv"), t=zoo_targets()),
    }
