"""Names of the measures, as they appear in every result table (one definition each).

Higher is better for every name listed here: a higher adversarial measure means the
source's attacks hurt the reference more, a higher knowledge measure means the source's
features transfer better.
"""

from __future__ import annotations

__all__ = ["ADVERSARIAL_MEASURES", "KNOWLEDGE_MEASURES", "MEASURE_NAMES", "TRUTH_NAMES"]

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
#: Display names of the measures (figures); the figure shows each beside its column name in
#: leaderboard.tsv (``measure``), so that a figure row and a table row read alike.
MEASURE_NAMES = {
    "nce": "NCE",
    "leep": "LEEP",
    "h_score": "H-score",
    "regularized_h_score": "regularized H-score",
    "log_me": "LogME",
    "transrate": "TransRate",
    "gbc": "GBC",
    "knn": "kNN accuracy",
    "nleep": "NLEEP",
    "sfda": "SFDA",
    "ncti": "NCTI",
    "etran": "ETran",
    "param_count": "parameter count",
    "source_val_accuracy": "source val. accuracy",
    "random": "random ranking",
    "cross_adv_loss": "cross adv. loss",
    "adv_loss_ratio": "adv. loss ratio",
    "flip_rate": "flip rate",
    "tau1": "τ1",
    "tau2": "τ2",
    "alpha": "α",
}
#: Display names of the ground truths (figures).
TRUTH_NAMES = {
    "probe_accuracy": "linear probe accuracy",
    "kshot_accuracy": "k-shot probe accuracy",
    "verification_accuracy": "verification accuracy",
}
