# Experiment tables and input functions of the nlp scenario (rules/nlp.smk).
from advtransfer.nlp.data import check_local_dataset, load_word_vectors  # noqa: E402

NLP_REFERENCE = "reference"


def nlp_config():
    """The nlp config section, checked for names that must agree."""
    cfg = config["nlp"]
    known = cfg["datasets"]
    unknown = [d for d in [*cfg["sources"], cfg["target"]] if d not in known]
    if unknown:
        raise ValueError(
            f"nlp: data sets {unknown} are used as sources/target but not defined under "
            f"nlp.datasets (defined: {', '.join(known)})"
        )
    if cfg["target"] in cfg["sources"]:
        raise ValueError(f"nlp: the target {cfg['target']!r} is also a source")
    return cfg


def nlp_sources():
    """Source models: {model: {"dataset", "seed", "label"}}, e.g. yelp_s0 -> yelp, seed 0."""
    cfg = nlp_config()
    return {
        f"{dataset}_s{seed}": {
            "dataset": dataset,
            "seed": seed,
            "label": cfg["datasets"][dataset]["label"] or dataset,
        }
        for dataset in cfg["sources"]
        for seed in cfg["source_seeds"]
    }


def nlp_models():
    """Every classifier of the nlp scenario, the reference (on the target) included."""
    cfg = nlp_config()
    table = nlp_sources()
    table[NLP_REFERENCE] = {
        "dataset": cfg["target"],
        "seed": cfg["reference_seed"],
        "label": NLP_REFERENCE,
    }
    return table


def nlp_datasets():
    """Data sets of the nlp scenario: the sources, then the target."""
    cfg = nlp_config()
    return [*cfg["sources"], cfg["target"]]


def check_nlp_files():
    """Every missing local file of the scenario (data sets, word vectors) in one message."""
    cfg = nlp_config()
    problems = []
    for name in nlp_datasets():
        try:
            check_local_dataset(name, cfg["datasets"][name])
        except FileNotFoundError as err:
            problems.append(str(err))
    vectors = cfg["attack"]["embeddings"]
    if vectors and not Path(vectors).is_file():
        try:
            load_word_vectors(vectors)
        except FileNotFoundError as err:
            problems.append(str(err))
    if problems:
        raise FileNotFoundError(
            "nlp: missing input files (nothing was run):\n  - "
            + "\n  - ".join(problems)
        )


def nlp_outputs():
    """Products of the nlp scenario (rule all); checks the local input files first."""
    check_nlp_files()
    return expand(
        result("nlp/{name}"),
        name=[
            "transfer.tsv",
            "correlation.tsv",
            "figure3.png",
            "figure3.svg",
            "scatter.png",
            "scatter.svg",
        ],
    )


def _nlp_model(wildcards):
    table = nlp_models()
    if wildcards.model not in table:
        raise ValueError(
            f"unknown nlp model {wildcards.model!r}; known: {', '.join(table)}"
        )
    return table[wildcards.model]


def get_nlp_dataset_spec(wildcards):
    """The config entry of one text data set, without its display-only keys.

    `label` and `obtain` only name things in tables and messages; leaving them out keeps
    a renamed label from re-running the whole scenario.
    """
    datasets = config["nlp"]["datasets"]
    if wildcards.dataset not in datasets:
        raise ValueError(
            f"unknown nlp data set {wildcards.dataset!r}; defined under nlp.datasets: "
            f"{', '.join(datasets)}"
        )
    spec = datasets[wildcards.dataset]
    return {k: v for k, v in spec.items() if k not in ("label", "obtain")}


def get_nlp_dataset_files(wildcards):
    """Local files of a csv/json data set; a missing file stops the DAG with the fix."""
    get_nlp_dataset_spec(wildcards)  # unknown names fail with the list of known ones
    return [
        str(p)
        for p in check_local_dataset(
            wildcards.dataset, config["nlp"]["datasets"][wildcards.dataset]
        )
    ]


def get_nlp_encoder_inputs(wildcards):
    """A random encoder builds its vocabulary from the prepared training texts."""
    if config["nlp"]["encoder"]["kind"] != "random":
        return {}
    return {
        "data": expand(result("nlp/data/{dataset}.csv"), dataset=nlp_datasets()),
    }


def get_nlp_model_data(wildcards):
    """The normalised data set (and its class list) a classifier is fine-tuned on."""
    dataset = _nlp_model(wildcards)["dataset"]
    return {
        "data": result(f"nlp/data/{dataset}.csv"),
        "data_meta": result(f"nlp/data/{dataset}.json"),
    }


def get_nlp_model_seed(wildcards):
    """The fine-tuning seed of one classifier."""
    return _nlp_model(wildcards)["seed"]


def get_nlp_target_data(wildcards):
    """The normalised target data set and its class list."""
    target = nlp_config()["target"]
    return {
        "data": result(f"nlp/data/{target}.csv"),
        "data_meta": result(f"nlp/data/{target}.json"),
    }


def get_nlp_attack_inputs(wildcards):
    """Model, target data, encoder and (if configured) the word-vector file of an attack."""
    inputs = {
        "model": result(f"nlp/models/{wildcards.model}/model.safetensors"),
        "encoder": result("nlp/encoder/base.json"),
        **get_nlp_target_data(wildcards),
    }
    vectors = config["nlp"]["attack"]["embeddings"]
    if vectors:
        if not Path(vectors).is_file():
            load_word_vectors(vectors)  # raises naming the file and how to obtain it
        inputs["vectors"] = vectors
    return inputs


def get_nlp_source_info(wildcards):
    """Per-source description for the summary: {model: {dataset, seed, label}}."""
    return nlp_sources()


def get_nlp_source_tables(wildcards):
    """Per-source adversarial and probe rows."""
    models = list(nlp_sources())
    return {
        "adversarial": expand(result("nlp/adversarial/{model}.tsv"), model=models),
        "probe": expand(result("nlp/probe/{model}.tsv"), model=models),
    }
