"""advtransfer: does adversarial transferability indicate knowledge transferability?

The package mirrors the Snakemake workflow in the repository root: ``advtransfer.core`` is
the paper's math (pure functions on tensors and arrays), ``advtransfer.images`` the
machinery shared by the image scenarios, and one subpackage per scenario holds that
scenario's code (``rules/<scenario>.smk`` -> ``scripts/<scenario>/`` ->
``advtransfer.<scenario>``). Submodules load lazily, so
``import advtransfer`` stays cheap (the workflow imports ``advtransfer.config`` before
every DAG is built, without torch)::

    from advtransfer import metrics, theory
    res = metrics.adversarial_transferability(jac_source, jac_target)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Layers (see README "How the code is laid out"): the paper's math, the machinery shared
#: by the image scenarios, one subpackage per scenario, and small cross-cutting helpers.
_SUBMODULES = (
    "core",  # the paper's math: tau, theory, attacks, probes, estimators, statistics
    "images",  # shared by the image scenarios: architectures, training, image sets, measures
    "synthetic",  # scenario: synthetic RBF regression (Figure 2)
    "distributions",  # scenario: knowledge transfer among data distributions (Figure 3)
    "attributes",  # scenario: attributes -> face recognition (Table 1)
    "tasks",  # scenario: knowledge transfer among tasks (Figures 4-5)
    "nlp",  # scenario: text data distributions
    "leaderboard",  # scenario: estimators against adversarial measures
    "byo",  # scenario: bring your own candidate models
    "config",  # helper: config validation with messages naming the key
    "fitting",  # helper: the one training loop
    "io",  # helper: atomic writes, safetensors, logging
    "jobs",  # helper: the preamble of every workflow script
    "plots",  # helper: figures shared by scenarios
    "metrics",  # public API: re-export of core.tau
    "theory",  # public API: re-export of core.theory
)

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
