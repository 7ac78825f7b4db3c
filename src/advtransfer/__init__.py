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
    "arcface",  # ArcFace head and focal loss of the recognition reference
    "architectures",  # image classifiers with frozen-feature access, safetensors I/O
    "attacks",  # PGD (L-inf) and per-sample adversarial losses
    "attribute_plots",  # Table 1 figure and attribute scatter
    "attributes",  # data and tables of the attributes scenario
    "celeba",  # CelebA reader (official list files and splits)
    "config",  # config validation with messages naming the key
    "datasets",  # digits, CIFAR-10 and STL-10 readers, class bookkeeping, domain shift
    "digitstasks",  # embedded multi-task benchmark on digits canvases
    "distributions",  # data sets of the distributions scenario
    "estimators",  # LEEP, NCE, H-score, LogME, TransRate, GBC, kNN
    "imagefolder",  # target data sets given as one sub-folder per class
    "imagesets",  # cached image data sets of the image scenarios
    "io",  # atomic writes, safetensors, logging for workflow scripts
    "leaderboard",  # estimator scores, costs and rank agreement per pool
    "leaderboard_figure",  # leaderboard figure
    "metrics",  # tau1, tau2, alpha, batched input Jacobians
    "model_zoo",  # bring-your-own source models (torchvision, TorchScript, safetensors)
    "multitask",  # multi-task models, task losses, PGD on task outputs
    "plots",  # figures
    "probes",  # linear and k-shot probes on frozen features
    "ranking",  # agreement of estimator scores with ground-truth transfer
    "stats",  # rank correlations with bootstrap intervals
    "synthetic",  # synthetic RBF regression experiment
    "taskbank",  # Taskonomy task-bank encoders and decoders
    "taskgraph",  # tournament matrices, ATM, task trees, category entropy
    "taskonomy",  # Taskonomy task lists and affinity readers
    "taskplots",  # task trees (Figure 4) and category entropy (Figure 5)
    "tasktables",  # per-image loss tables to ATM, affinity, trees and entropy
    "text_attack",  # TextFooler-style word-substitution attack
    "text_corpora",  # offline stand-ins for the NLP corpora
    "text_data",  # text data set loaders and the normalised file format
    "text_models",  # BERT-family classifiers, offline weights with hash checks
    "text_transfer",  # per-source measures of the NLP scenario
    "theory",  # Theorems 1-3 and Proposition 2
    "training",  # seeded classifier training with validation model selection
    "transfer",  # per-source adversarial and knowledge measures
    "verification",  # face verification: cosine similarity, 10-fold threshold, .bin reader
)

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
