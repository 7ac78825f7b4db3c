# Experiment tables and input functions of the synthetic scenario (rules/synthetic.smk).
SYNTHETIC_MODELS = ["target", "independent"]
SYNTHETIC_SETS = ["derived", "independent"]


wildcard_constraints:
    mlp="|".join(SYNTHETIC_MODELS),
    set="|".join(SYNTHETIC_SETS),


def synthetic_outputs():
    """Products of the synthetic scenario (rule all)."""
    return [
        result("synthetic/sweep.tsv"),
        result("synthetic/figure2.png"),
        result("synthetic/figure2.svg"),
    ]


def get_synthetic_model_params(wildcards):
    """Training settings of one synthetic MLP (target or independent source)."""
    return config["synthetic"][wildcards.mlp]


def get_sweep_models(wildcards):
    """The target, plus the independently trained start point for the second set."""
    models = {"target": result("synthetic/models/target.safetensors")}
    if wildcards.set == "independent":
        models["start"] = result("synthetic/models/independent.safetensors")
    return models
