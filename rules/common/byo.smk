# Experiment tables and input functions of the byo scenario (rules/byo.smk): candidate
# source models supplied by the user, and a target given as an image folder.
from advtransfer.images import sources  # noqa: E402
from advtransfer.images import imagefolder  # noqa: E402

BYO_DATA = result("byo/data/target.safetensors")
BYO_REFERENCE = result(f"byo/models/{REFERENCE}.safetensors")
BYO_CANDIDATES = result("byo/models/candidates.tsv")
#: Candidates the workflow writes itself (entries with `export_from`), e.g. the example's.
BYO_EXPORTED = result("byo/example/{model}.{ext}")
BYO_EXPORT_EXT = {"export": "pt2", "torchscript": "pt"}
#: Parse-time results (file checks, folder scan), computed once per Snakemake run.
_BYO_CACHE = {}


def byo_models():
    """Candidate models {name: spec}, checked at parse time (files exist and match format).

    Loading and running each model is left to the cheap check_byo_models job, which runs
    before the reference is trained.
    """
    if "models" in _BYO_CACHE:
        return _BYO_CACHE["models"]
    entries = config["byo"]["models"]
    names = [m["name"] for m in entries]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(
            f"byo.models: duplicate name(s) {', '.join(duplicates)}; give each model its own name"
        )
    if len(entries) < 3:
        raise ValueError(
            f"byo.models lists {len(entries)} model(s); ranking candidates needs at least three. "
            "Fix: add models to byo.models (see configs/byo_example.yaml)."
        )
    problems = []
    for entry in entries:
        try:
            if entry.get("export_from"):
                check_byo_export(entry)
            else:
                sources.check_source_file(entry)
        except sources.ModelFileError as err:
            problems.append(str(err))
    if problems:
        raise ValueError("bad byo.models entries:\n  - " + "\n  - ".join(problems))
    _BYO_CACHE["models"] = {m["name"]: dict(m) for m in entries}
    return _BYO_CACHE["models"]


def check_byo_export(entry):
    """A candidate the workflow exports from a model it wrote (rule export_byo_model)."""
    name, fmt = entry["name"], entry["format"]
    if fmt not in BYO_EXPORT_EXT:
        raise sources.ModelFileError(
            f"model {name}: `export_from` writes format export or torchscript, not {fmt}"
        )
    wanted = BYO_EXPORTED.format(model=name, ext=BYO_EXPORT_EXT[fmt])
    if entry["file"] != wanted:
        raise sources.ModelFileError(
            f"model {name}: with `export_from` the file is written to {wanted}; "
            f"set `file: {wanted}`"
        )
    sources.check_source_file(
        {"name": name, "format": "advtransfer", "file": entry["export_from"]}
    )


def byo_folder_generated():
    """Whether the target folder is written by the workflow (byo.target.from_imageset)."""
    return bool(config["byo"]["target"].get("from_imageset"))


def byo_image_index():
    """The scanned target image folder (fails with the path and the fix if malformed)."""
    if "index" not in _BYO_CACHE:
        target = config["byo"]["target"]
        _BYO_CACHE["index"] = imagefolder.scan_image_folder(
            target["image_folder"], max_per_class=target["max_per_class"]
        )
    return _BYO_CACHE["index"]


def byo_outputs():
    """Products of the byo scenario (rule all); checks models and folder first."""
    byo_models()
    if not byo_folder_generated():
        byo_image_index()
    return [
        BYO_CANDIDATES,
        result("byo/transfer.tsv"),
        *expand(result("byo/{name}"), name=LEADERBOARD_OUTPUTS),
    ]


def byo_pool():
    """Leaderboard pool of the byo scenario (see rules/common/leaderboard.smk)."""
    models = byo_models()
    return {
        "sources": models,
        "data": BYO_DATA,
        "transfer": result("byo/transfer.tsv"),
        "per_source": {
            m: [benchfile(f"byo/measure_byo_adversarial/{m}.tsv")] for m in models
        },
        "fixed": [
            benchfile("byo/train_byo_reference.tsv"),
            benchfile("byo/attack_byo_reference.tsv"),
        ],
        "checked": [BYO_CANDIDATES],
    }


LEADERBOARD_POOLS["byo"] = byo_pool


def get_byo_image_files(wildcards):
    """Every image file of the target folder (so added or changed images trigger a rebuild),
    or the folder itself when the workflow writes it (rule byo_example_folder)."""
    if byo_folder_generated():
        return [config["byo"]["target"]["image_folder"]]
    return [str(p) for p in byo_image_index().files]


def get_byo_model_files(wildcards):
    """Every candidate model file."""
    return [spec["file"] for spec in byo_models().values()]


def get_byo_specs(wildcards):
    """Specs of every candidate, in config order: {model: spec}."""
    return byo_models()


def get_byo_spec(wildcards):
    """model_zoo spec of one candidate."""
    models = byo_models()
    if wildcards.model not in models:
        raise ValueError(
            f"unknown byo model {wildcards.model!r}; known: {', '.join(models)}"
        )
    return models[wildcards.model]


def get_byo_export_input(wildcards):
    """The workflow's own model that rule export_byo_model exports as candidate `model`."""
    spec = get_byo_spec(wildcards)
    if not spec.get("export_from"):
        raise ValueError(f"byo model {wildcards.model} has no `export_from`")
    return spec["export_from"]


def get_byo_model_input(wildcards):
    """Model file, target data and the model check table for one candidate's job."""
    return {
        "model": get_byo_spec(wildcards)["file"],
        "data": BYO_DATA,
        "checked": BYO_CANDIDATES,
    }


def get_byo_image_shape(wildcards):
    """(C, H, W) of the target images."""
    target = config["byo"]["target"]
    return [target["channels"], target["image_size"], target["image_size"]]


def get_byo_source_tables(wildcards):
    """Per-candidate adversarial rows, the probe table and the candidate list."""
    return {
        "adversarial": expand(
            result("byo/adversarial/{model}.tsv"), model=list(byo_models())
        ),
        "probes": result("byo/probes.tsv"),
        "candidates": BYO_CANDIDATES,
    }
