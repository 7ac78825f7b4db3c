# Workflow-side Python: config validation, experiment tables, input functions.
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from advtransfer.config import load_schema, validate_config  # noqa: E402

validate_config(
    config, load_schema(Path(workflow.basedir) / "schemas/config.schema.yaml")
)

SYNTHETIC_MODELS = ["target", "independent"]
SYNTHETIC_SETS = ["derived", "independent"]


wildcard_constraints:
    model="|".join(SYNTHETIC_MODELS),
    set="|".join(SYNTHETIC_SETS),


def get_final_outputs():
    """Every product of the scenarios listed under `scenarios` in the config."""
    outputs = []
    if "synthetic" in config["scenarios"]:
        outputs += [
            "results/synthetic/sweep.tsv",
            "results/synthetic/figure2.png",
            "results/synthetic/figure2.svg",
        ]
    return outputs


def get_synthetic_model_params(wildcards):
    """Training settings of one synthetic MLP (target or independent source)."""
    return config["synthetic"][wildcards.model]


def get_sweep_models(wildcards):
    """The target, plus the independently trained start point for the second set."""
    models = {"target": "results/synthetic/models/target.safetensors"}
    if wildcards.set == "independent":
        models["start"] = "results/synthetic/models/independent.safetensors"
    return models
