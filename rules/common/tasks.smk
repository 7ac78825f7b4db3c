# Experiment tables and input functions of the tasks scenario (rules/tasks.smk).
from advtransfer.tasks.digits import DIGITS_TASK_TABLE  # noqa: E402
from advtransfer.tasks.taskbank import (
    TASKBANK_TABLE,
    missing_weights_message,
    select_images,
    weight_files,
)  # noqa: E402
from advtransfer.tasks.taskonomy import (
    AFFINITY_PICKLE_NAME,
    AFFINITY_SOURCE_HINT,
    DATA_DIR_ENV,
    TASKONOMY_15,
    TASKONOMY_CATEGORIES,
    default_data_dir,
)  # noqa: E402

#: The images (digits canvases with their task targets, or Taskonomy RGB images).
TASK_DATA = result("tasks/data/images.safetensors")


wildcard_constraints:
    task="[A-Za-z0-9_]+",


def task_names():
    """Tasks of the scenario, in matrix order: the config's list or the dataset's default."""
    cfg = config["tasks"]
    if cfg["dataset"] == "digits":
        table, default = DIGITS_TASK_TABLE, list(DIGITS_TASK_TABLE)
    else:
        table, default = TASKBANK_TABLE, list(TASKONOMY_15)
    names = list(cfg["tasks"] or default)
    unknown = [n for n in names if n not in table]
    if unknown:
        raise ValueError(
            f"config key tasks.tasks: unknown {cfg['dataset']} tasks {unknown}; "
            f"known: {', '.join(table)}"
        )
    return names


def task_categories():
    """A-priori category of every task: {task: category}."""
    if config["tasks"]["dataset"] == "digits":
        return {t: DIGITS_TASK_TABLE[t][0] for t in task_names()}
    return {t: TASKONOMY_CATEGORIES[t] for t in task_names()}


def get_task_data_config():
    """The keys of the tasks section that the shared images depend on (params of
    build_task_data): the digits canvas settings, or the Taskonomy image keys."""
    cfg = config["tasks"]
    if cfg["dataset"] == "digits":
        return {"digits": cfg["digits"]}
    bank = cfg["taskbank"]
    return {"taskbank": {k: bank[k] for k in ("images_dir", "image_size", "losses")}}


def get_task_names(wildcards):
    """Tasks of the scenario, for params."""
    return task_names()


def get_task_categories(wildcards):
    """A-priori categories, for params."""
    return task_categories()


def check_taskonomy_inputs():
    """Name every missing weight file, image and the affinity file at once, before any job."""
    cfg = config["tasks"]
    problems = []
    message = missing_weights_message(cfg["taskbank"]["weights_dir"], task_names())
    if message:
        problems.append(message)
    try:
        select_images(
            cfg["taskbank"]["images_dir"],
            cfg["attack"]["n_images"],
            cfg["attack"]["seed"],
        )
    except FileNotFoundError as err:
        problems.append(str(err))
    if not Path(affinity_pickle()).is_file():
        problems.append(
            f"Taskonomy affinity file not found: {affinity_pickle()} (set "
            f"tasks.taskbank.affinity or ${DATA_DIR_ENV}); {AFFINITY_SOURCE_HINT}"
        )
    if problems:
        raise FileNotFoundError(
            "the tasks scenario (dataset taskonomy) cannot start:\n  - "
            + "\n  - ".join(problems)
        )


def tasks_outputs():
    """Products of the tasks scenario (rule all); checks the inputs before any job starts."""
    task_names()
    if config["tasks"]["dataset"] == "taskonomy":
        check_taskonomy_inputs()
    return [
        result("tasks/atm.tsv"),
        result("tasks/affinity.tsv"),
        result("tasks/tau_matrix.tsv"),
        result("tasks/entropy.tsv"),
        result("tasks/clusters.tsv"),
        result("tasks/figure4.png"),
        result("tasks/figure5.png"),
        *task_heatmap_paths("png"),
    ]


def task_heatmap_paths(ext):
    """Clustered heatmaps of every ATM (one per attack radius), of the affinity and of
    the tau task matrix (tau1, tau2)."""
    names = [f"atm_eps{eps:g}" for eps in config["tasks"]["attack"]["eps"]] + [
        "affinity",
        "tau1",
        "tau2",
    ]
    return [result(f"tasks/heatmap_{name}.{ext}") for name in names]


def task_model_path(task):
    """Weights of one task model: trained (digits) or imported from the task bank."""
    stage = "models" if config["tasks"]["dataset"] == "digits" else "taskbank"
    return result(f"tasks/{stage}/{task}.safetensors")


def get_source_model(wildcards):
    """The task model whose encoder is transferred."""
    return task_model_path(wildcards.task)


def get_task_images(wildcards):
    """Taskonomy: the sampled image files (none for digits); names missing images early."""
    cfg = config["tasks"]
    if cfg["dataset"] == "digits":
        return {}
    files = select_images(
        cfg["taskbank"]["images_dir"], cfg["attack"]["n_images"], cfg["attack"]["seed"]
    )
    return {"images": [str(f) for f in files]}


def get_taskbank_weights(wildcards):
    """Encoder and decoder .pth of one task; every missing file of every task is named."""
    message = missing_weights_message(
        config["tasks"]["taskbank"]["weights_dir"], task_names()
    )
    if message:
        raise FileNotFoundError(message)
    files = weight_files(config["tasks"]["taskbank"]["weights_dir"], wildcards.task)
    return {part: str(path) for part, path in files.items()}


def get_task_seed(wildcards):
    """Training seed of one digits task: tasks.train.seed + its canonical index."""
    return config["tasks"]["train"]["seed"] + list(DIGITS_TASK_TABLE).index(
        wildcards.task
    )


def get_attack_inputs(wildcards):
    """The source task model, every target task model and the images."""
    return {
        "source": task_model_path(wildcards.task),
        "targets": [task_model_path(t) for t in task_names()],
        "data": TASK_DATA,
    }


def get_adversarial_tables(wildcards):
    """Per-source adversarial loss tables."""
    return expand(result("tasks/adversarial/{task}.tsv"), task=task_names())


def affinity_pickle():
    """Path of Taskonomy's all_affinities.pkl (config or the shared default)."""
    path = config["tasks"]["taskbank"]["affinity"]
    return path if path else str(default_data_dir() / AFFINITY_PICKLE_NAME)


def get_affinity_inputs(wildcards):
    """Measured transfer tables (digits) or the Taskonomy affinity pickle (taskonomy)."""
    if config["tasks"]["dataset"] == "digits":
        return {
            "losses": expand(result("tasks/knowledge/{task}.tsv"), task=task_names())
        }
    path = affinity_pickle()
    if not Path(path).is_file():
        raise FileNotFoundError(
            f"Taskonomy affinity file not found: {path} (set tasks.taskbank.affinity or "
            f"${DATA_DIR_ENV}); {AFFINITY_SOURCE_HINT}"
        )
    return {"pickle": path}
