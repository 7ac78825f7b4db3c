"""Names of the measures, as they appear in every result table (one definition each).

Higher is better for every name listed here: a higher adversarial measure means the
source's attacks hurt the reference more, a higher knowledge measure means the source's
features transfer better.
"""

from __future__ import annotations

__all__ = ["ADVERSARIAL_MEASURES", "KNOWLEDGE_MEASURES"]

#: Adversarial measures (cross adversarial loss of Def. 6, its ratio to the reference's
#: own adversarial loss, the prediction flip rate, tau1, tau2 and alpha of Defs. 1-3).
ADVERSARIAL_MEASURES: tuple[str, ...] = (
    "cross_adv_loss",
    "adv_loss_ratio",
    "flip_rate",
    "tau1",
    "tau2",
    "alpha",
)
#: Knowledge measures: full-data linear-probe accuracy and k-shot accuracy (the probe's
#: loss, lower = better, stays in the tables as ``probe_loss`` and is not correlated).
KNOWLEDGE_MEASURES: tuple[str, ...] = ("probe_accuracy", "kshot_accuracy")
