"""advtransfer: does adversarial transferability indicate knowledge transferability?

The package holds the math (pure functions on tensors and arrays); the Snakemake workflow
in the repository root wires it into experiments. Submodules load lazily, so
``import advtransfer`` stays cheap (the workflow imports ``advtransfer.config`` before
every DAG is built, without torch)::

    from advtransfer import metrics, theory
    res = metrics.adversarial_transferability(jac_source, jac_target)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: One concept per module.
_SUBMODULES = (
    "architectures",  # image classifiers with frozen-feature access, safetensors I/O
    "attacks",  # PGD (L-inf) and per-sample adversarial losses
    "config",  # config validation with messages naming the key
    "datasets",  # digits, CIFAR-10 and STL-10 readers, class bookkeeping, domain shift
    "distributions",  # data sets of the distributions scenario
    "estimators",  # LEEP, NCE, H-score, LogME, TransRate, GBC, kNN
    "imagesets",  # cached image data sets of the image scenarios
    "io",  # atomic writes, safetensors, logging for workflow scripts
    "metrics",  # tau1, tau2, alpha, batched input Jacobians
    "plots",  # figures
    "probes",  # linear and k-shot probes on frozen features
    "ranking",  # agreement of estimator scores with ground-truth transfer
    "stats",  # rank correlations with bootstrap intervals
    "synthetic",  # synthetic RBF regression experiment
    "taskgraph",  # tournament matrices, ATM, task trees, category entropy
    "taskonomy",  # Taskonomy task lists and affinity readers
    "theory",  # Theorems 1-3 and Proposition 2
    "training",  # seeded classifier training with validation model selection
    "transfer",  # per-source adversarial and knowledge measures
)

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
