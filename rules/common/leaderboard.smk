# Source pools and input functions of the transferability leaderboard (rules/leaderboard.smk).
#
# A pool is everything the leaderboard needs about one scenario:
#   sources     {model: spec}, spec as in advtransfer.images.sources ({"format", "file", ...})
#   data        the target imageset (estimators read its train / val splits only)
#   transfer    the scenario's transfer.tsv (adversarial measures and probe accuracies)
#   per_source  benchmark files of the jobs behind one source's adversarial measures
#   fixed       benchmark files of the once-per-pool jobs behind them (reference model)
#   checked     extra inputs that must exist before scoring (e.g. a model check table)
# Image scenarios (rules/transfer.smk) get their pool automatically; other scenarios
# register a function in LEADERBOARD_POOLS (rules/common/byo.smk does).

#: {scenario: function() -> pool}, for scenarios outside the shared image stages.
LEADERBOARD_POOLS = {}
#: Image scenarios whose target-task training images are not in data/target.safetensors:
#: attributes' target task is identity recognition, labelled in data/probe.safetensors.
LEADERBOARD_TARGET_DATA = {"attributes": "probe"}
LEADERBOARD_OUTPUTS = [
    "leaderboard.tsv",
    "source_scores.tsv",
    "leaderboard.png",
    "leaderboard.svg",
]


# the zoo ranks its pools on several targets with rules of its own (rules/zoo.smk)
wildcard_constraints:
    board="(?!zoo/)[A-Za-z0-9_]+",


def _benchmark_pattern(rule_proxy):
    """The benchmark path pattern of a rule of rules/transfer.smk, or a clear error."""
    pattern = rule_proxy.benchmark
    if not pattern:
        raise ValueError(
            f"rule {rule_proxy.rule.name} writes no benchmark file; the leaderboard reads "
            "the cost of the adversarial measures from it"
        )
    return str(pattern)


def image_pool(scenario):
    """Pool of an image scenario that runs the shared stages of rules/transfer.smk."""
    models = list(image_sources(scenario))
    attack = _benchmark_pattern(rules.attack_pgd)
    measure = _benchmark_pattern(rules.measure_adversarial)
    train = _benchmark_pattern(rules.train_classifier)
    target = LEADERBOARD_TARGET_DATA.get(scenario, "target")
    return {
        "sources": {
            m: {
                "name": m,
                "format": "advtransfer",
                "file": result(f"{scenario}/models/{m}.safetensors"),
            }
            for m in models
        },
        "data": result(f"{scenario}/data/{target}.safetensors"),
        "transfer": result(f"{scenario}/transfer.tsv"),
        "per_source": {
            m: [p.format(scenario=scenario, model=m) for p in (attack, measure)]
            for m in models
        },
        "fixed": [
            p.format(scenario=scenario, model=REFERENCE) for p in (train, attack)
        ],
        "checked": [],
    }


def leaderboard_pool(scenario):
    """The pool of one scenario (see the header), or an error naming the fix."""
    if scenario in LEADERBOARD_POOLS:
        return LEADERBOARD_POOLS[scenario]()
    if scenario in IMAGE_SOURCE_TABLES:
        return image_pool(scenario)
    known = sorted(set(LEADERBOARD_POOLS) | set(IMAGE_SOURCE_TABLES))
    raise ValueError(
        f"scenario {scenario!r} has no pool of source models for a leaderboard; "
        f"scenarios with one: {', '.join(known)}. Fix leaderboard.scenarios in your config."
    )


def leaderboard_boards():
    """Scenarios that get a leaderboard: listed in leaderboard.scenarios and being run."""
    return [s for s in config["leaderboard"]["scenarios"] if s in config["scenarios"]]


def leaderboard_outputs():
    """Products of the leaderboard scenario (rule all)."""
    boards = leaderboard_boards()
    if not boards:
        raise ValueError(
            "scenario `leaderboard` is listed but none of leaderboard.scenarios "
            f"({', '.join(config['leaderboard']['scenarios'])}) is in `scenarios`. "
            "Fix: run one of them, or drop `leaderboard` from `scenarios`."
        )
    for board in boards:
        leaderboard_pool(board)  # fail early on a scenario without a pool
    return expand(result("{board}/{name}"), board=boards, name=LEADERBOARD_OUTPUTS)


def get_score_inputs(wildcards):
    """Model files, target data and prerequisite checks of a pool's scoring job."""
    pool = leaderboard_pool(wildcards.board)
    return {
        "models": [spec["file"] for spec in pool["sources"].values()],
        "data": pool["data"],
        "checked": pool["checked"],
    }


def get_source_specs(wildcards):
    """The source-model specs of a pool's sources: {model: spec}."""
    return leaderboard_pool(wildcards.board)["sources"]


def get_board_inputs(wildcards):
    """Estimator scores and their benchmark, transfer.tsv and the cost benchmarks."""
    pool = leaderboard_pool(wildcards.board)
    return {
        "scores": result(f"{wildcards.board}/estimators.tsv"),
        "score_benchmark": benchfile(f"{wildcards.board}/score_estimators.tsv"),
        "transfer": pool["transfer"],
        "adversarial_benchmarks": [p for ps in pool["per_source"].values() for p in ps]
        + pool["fixed"],
    }


def get_cost_layout(wildcards):
    """Which benchmark files belong to which source (params of rank_estimators)."""
    pool = leaderboard_pool(wildcards.board)
    return {"per_source": pool["per_source"], "fixed": pool["fixed"]}
