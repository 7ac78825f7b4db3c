"""Tables of the model zoo: the joined per-(source, target) table, the leaderboard over
targets, and what each measure needs and costs (rules/zoo.smk)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from advtransfer.core import robustness, scoring

__all__ = [
    "NEEDS",
    "join_tables",
    "measure_costs",
    "measure_kinds",
    "measure_needs",
    "zoo_leaderboard",
]

#: Columns of the needs table, in order.
NEEDS: tuple[str, ...] = ("needs_features", "needs_logits", "needs_labels", "needs_gradients",
                          "needs_reference_model")
#: Estimator columns that are timings or bookkeeping, not scores (kept out of transfer.tsv).
_BOOKKEEPING = ("n_samples", "load_s", "extract_s")
#: Adversarial measures that read the target labels themselves (the reference's loss).
_LABELLED_ADVERSARIAL = frozenset({"cross_adv_loss", "adv_loss_ratio"})


def join_tables(
    *,
    sources: Mapping[str, Mapping[str, Any]],
    targets: Sequence[str],
    adversarial: Sequence[pd.DataFrame],
    probes: Sequence[pd.DataFrame],
    estimators: Sequence[pd.DataFrame],
) -> pd.DataFrame:
    """One row per (source, target): source description, adversarial measures, probes,
    estimator scores and baselines.

    Args:
        sources: ``{model: {"arch", "family", "size", "dataset", ...}}`` (zoo.data.zoo_sources).
        targets: target names, in the order of ``probes`` and ``estimators``.
        adversarial: one table per source (columns ``model``, ``target``, measures).
        probes: one table per target (columns ``model``, ``target``, probe columns).
        estimators: one table per target (column ``model``, scores, baselines, timings).

    Raises:
        ValueError: a (source, target) pair missing from one of the tables.
    """
    adv = pd.concat(adversarial, ignore_index=True)
    probe = pd.concat(probes, ignore_index=True)
    scores = []
    for target, table in zip(targets, estimators, strict=True):
        keep = [c for c in table if c not in _BOOKKEEPING and not c.endswith("_s")
                and c != "feature_dim"]
        scores.append(table[keep].assign(target=target))
    est = pd.concat(scores, ignore_index=True)
    info = pd.DataFrame([{"model": m, **{k: s[k] for k in ("family", "size", "arch", "dataset")}}
                         for m, s in sources.items()])
    out = info.merge(adv, on="model", how="outer", validate="one_to_many", indicator="_a")
    for other, name in ((probe, "probes"), (est, "estimators")):
        out = out.merge(other, on=["model", "target"], how="outer", validate="one_to_one",
                        indicator="_b")
        bad = out[(out["_a"] != "both") | (out["_b"] != "both")]
        if len(bad):
            pairs = ", ".join(f"{m}/{t}" for m, t in bad[["model", "target"]].itertuples(
                index=False))
            raise ValueError(f"zoo tables disagree: {pairs} missing from the adversarial "
                             f"rows or the {name}; re-run the zoo's measure jobs")
        out = out.drop(columns="_b")
    out = out.drop(columns="_a")
    order = {t: i for i, t in enumerate(targets)}
    out["_t"] = out["target"].map(order)
    out = out.sort_values(["_t", "model"], kind="stable").drop(columns="_t")
    return out.reset_index(drop=True)


def measure_kinds(table: pd.DataFrame, estimators: Sequence[str],
                  adversarial: Sequence[str]) -> dict[str, str]:
    """``{column: kind}`` of every measure ``table`` has: estimators, adversarial
    measures and the baselines (:data:`advtransfer.core.scoring.BASELINES`)."""
    kinds = {e: "estimator" for e in estimators if e in table}
    kinds.update({a: "adversarial" for a in adversarial if a in table})
    kinds.update({b: "baseline" for b in scoring.BASELINES if b in table})
    return kinds


def zoo_leaderboard(
    table: pd.DataFrame,
    kinds: Mapping[str, str],
    truths: Sequence[str],
    *,
    ranking: Mapping[str, Any],
    robust: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Agreement of every measure with every truth, per target and over targets.

    Per target: :func:`advtransfer.core.scoring.rank_measures` (group-aware intervals,
    permutation p-values, Holm over the target's family, the random baseline); over
    targets (``target`` = ``mean``): :func:`advtransfer.core.robustness.
    leaderboard_over_targets` (mean coefficient, a bootstrap that resamples the same
    sources in every target), joined with ``robust`` (leave-one-out range, without the
    largest models) for the first truth.
    """
    group = ranking.get("group_by")
    primary = ranking.get("primary") or {}
    primary = (primary["adversarial"], primary["knowledge"]) if primary else None
    boot = {k: ranking[k] for k in ("n_boot", "seed") if k in ranking}
    rows = []
    for target, sub in table.groupby("target", sort=False):
        board = scoring.rank_measures(
            sub.reset_index(drop=True), dict(kinds), truths, {}, group_col=group,
            primary=primary, random_draws=ranking.get("random_draws", 1000),
            n_perm=ranking.get("n_perm", 2000), confidence=ranking.get("confidence", 0.95),
            **boot)
        rows.append(board.assign(target=target))
    for truth in truths:
        mean = robustness.leaderboard_over_targets(
            table, dict(kinds), truth, group_col=group,
            confidence=ranking.get("confidence", 0.95), **boot)
        if robust is not None and truth == truths[0]:
            mean = mean.merge(robust.drop(columns=["weighted_tau", "kind"], errors="ignore"),
                              on="measure", how="left")
        rows.append(mean.assign(target="mean"))
        rows.append(_mean_random(rows[:len(table["target"].unique())], truth))
    out = pd.concat(rows, ignore_index=True)
    front = ["target", "truth", "measure", "kind"]
    return out[front + [c for c in out if c not in front]]


def _mean_random(boards: Sequence[pd.DataFrame], truth: str) -> pd.DataFrame:
    """The random ranking over targets: the mean of its per-target chance level and of the
    per-target central ranges (not an interval of the mean)."""
    chance = pd.concat([b[(b["measure"] == scoring.RANDOM_BASELINE) & (b["truth"] == truth)]
                        for b in boards], ignore_index=True)
    columns = [c for c in chance if c.startswith(("kendall", "weighted_tau", "spearman",
                                                  "pearson", "relative_top1"))
               and not c.endswith("_p") and chance[c].dtype.kind == "f"]
    row = {"truth": truth, "measure": scoring.RANDOM_BASELINE, "kind": "baseline",
           "target": "mean", "n_targets": len(chance), **chance[columns].mean().to_dict()}
    return pd.DataFrame([row])


def measure_needs(measure: str, kind: str) -> dict[str, bool]:
    """What computing ``measure`` takes: source features, source outputs (logits or
    predictions), target labels in the measure itself, input gradients, a reference model
    trained on the target."""
    if kind == "adversarial":
        return {"needs_features": False, "needs_logits": True,
                "needs_labels": measure in _LABELLED_ADVERSARIAL, "needs_gradients": True,
                "needs_reference_model": True}
    if kind == "estimator":
        return {"needs_features": measure not in ("nce", "leep"),
                "needs_logits": measure in scoring.HEAD_ESTIMATORS, "needs_labels": True,
                "needs_gradients": False, "needs_reference_model": False}
    # baselines: the size needs the architecture only; source accuracy the source's own
    # validation predictions (no target data); the random ranking nothing
    return {"needs_features": False, "needs_logits": measure == "source_val_accuracy",
            "needs_labels": False, "needs_gradients": False, "needs_reference_model": False}


def _seconds(path: str) -> float:
    return float(pd.read_csv(path, sep="\t")["s"].iloc[0])


def measure_costs(
    kinds: Mapping[str, str],
    board: pd.DataFrame,
    *,
    estimator_tables: Sequence[pd.DataFrame],
    benchmarks: Mapping[str, Sequence[str]],
    truth: str,
) -> pd.DataFrame:
    """What each measure needs and costs, with its mean weighted tau over targets.

    ``benchmarks``: benchmark files of the jobs, ``{"adversarial": [per source],
    "reference": [reference training and attack per target], "estimator": [per target]}``.

    ``cost_s``: wall-clock seconds of the jobs behind the measure, summed over the zoo as
    they ran (job start-up included; Snakemake benchmark files): the adversarial measures
    need every source's attack-and-measure job plus each target's reference training and
    attack; an estimator needs the scoring job of every target (one job scores every
    estimator: any one costs about that much). ``compute_s``: in-process seconds of one
    estimator (loading, feature extraction and the estimator itself, summed over sources
    and targets); NaN for the adversarial measures (not separable from their jobs).
    Baselines read what the other jobs wrote: cost 0.
    """
    adv_s = sum(_seconds(p) for p in benchmarks["adversarial"]) + \
        sum(_seconds(p) for p in benchmarks["reference"])
    est_s = sum(_seconds(p) for p in benchmarks["estimator"])
    mean = board[(board["target"] == "mean") & (board["truth"] == truth)].set_index("measure")
    rows = []
    for measure, kind in [*kinds.items(), (scoring.RANDOM_BASELINE, "baseline")]:
        if kind == "estimator":
            compute = float(sum((t["load_s"] + t["extract_s"] + t[f"{measure}_s"]).sum()
                                for t in estimator_tables))
            cost = est_s
        else:
            compute, cost = (np.nan, adv_s) if kind == "adversarial" else (0.0, 0.0)
        tau = mean["weighted_tau"].get(measure, np.nan) if len(mean) else np.nan
        rows.append({"measure": measure, "kind": kind, **measure_needs(measure, kind),
                     "cost_s": cost, "compute_s": compute, "weighted_tau": tau,
                     "truth": truth})
    return pd.DataFrame(rows)
