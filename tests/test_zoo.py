"""The model zoo's pure parts: labellings, transforms, the source table, measure needs, the
joined table, and the findings verdict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from advtransfer import findings
from advtransfer.images import architectures
from advtransfer.zoo import data, tables

CFG = {"families": ["mlp", "cnn", "resnet"], "seeds": [0],
       "datasets": {"lower": {}, "upper": {}, "parity": {}}}


def test_labellings_by_hand():
    y = np.arange(10)
    parity, names = data.relabel(y, "parity")
    assert names == ["even", "odd"] and list(parity) == [0, 1] * 5
    loops, names = data.relabel(y, "loops")
    assert names == ["loop", "open"] and [d for d in range(10) if loops[d] == 0] == [0, 6, 8, 9]
    with pytest.raises(ValueError, match="unknown labelling 'colour'"):
        data.relabel(y, "colour")


def test_transforms():
    x = np.zeros((2, 1, 8, 8), dtype=np.float32)
    x[:, 0, 1, 6] = 1.0
    assert np.array_equal(data.apply_transform(x, "invert"), 1.0 - x)
    t = data.apply_transform(x, "transpose")
    assert t[0, 0, 6, 1] == 1.0 and t[0, 0, 1, 6] == 0.0
    assert data.apply_transform(x, "none") is x
    with pytest.raises(ValueError, match="unknown transform"):
        data.apply_transform(x, "blur")


def test_default_zoo_meets_the_brief():
    """>= 18 sources, >= 3 families, sizes over >= 10x, >= 3 source data sets."""
    table = data.zoo_sources(CFG)
    assert len(table) == 18 and len({s["family"] for s in table.values()}) == 3
    assert len({s["dataset"] for s in table.values()}) == 3
    sizes = []
    for arch in {s["arch"] for s in table.values()}:
        model = architectures.build_model(arch, 10, 1, [0.5], [0.25])
        sizes.append(sum(p.numel() for p in model.parameters()))
    assert max(sizes) / min(sizes) > 10
    # README: "1.4k to 126k parameters with a 10-class head"
    assert (round(min(sizes), -2), round(max(sizes), -3)) == (1400, 126000)
    assert table["cnn_l_parity"] == {"arch": "digits_cnn", "family": "cnn", "size": "l",
                                     "dataset": "parity", "seed": 0,
                                     "label": "digits_cnn on parity"}
    with pytest.raises(ValueError, match="unknown family 'vit'"):
        data.zoo_sources({**CFG, "families": ["vit"]})


def test_data_sets_are_disjoint_pools_with_their_labels():
    cfg = {"split_seed": 0, "pool_split": 0.6, "source_split": [0.8, 0.2, 0.0],
           "target_split": [0.4, 0.2, 0.4],
           "datasets": {"lower": {"classes": ["zero", "one", "two", "three", "four"]},
                        "parity": {"classes": "all", "labels": "parity"}},
           "targets": {"inv": {"transform": "invert"}, "loops": {"labels": "loops"}}}
    built = data.build_zoo_data(cfg)
    assert built["source_lower"]["classes"] == ["zero", "one", "two", "three", "four"]
    assert built["source_parity"]["classes"] == ["even", "odd"]
    assert built["target_loops"]["classes"] == ["loop", "open"]
    n_source = sum(len(v) for k, v in built["source_parity"]["arrays"].items() if k[0] == "y")
    n_target = sum(len(v) for k, v in built["target_loops"]["arrays"].items() if k[0] == "y")
    assert n_source + n_target == 1797 and abs(n_source / 1797 - 0.6) < 0.01
    inv = built["target_inv"]["arrays"]["x_train"]
    assert inv.max() == pytest.approx(1.0) and np.median(inv) > 0.5  # background now bright


def test_measure_needs():
    adv = tables.measure_needs("cross_adv_loss", "adversarial")
    assert adv["needs_gradients"] and adv["needs_reference_model"] and adv["needs_labels"]
    assert not tables.measure_needs("tau1", "adversarial")["needs_labels"]
    leep = tables.measure_needs("leep", "estimator")
    assert leep["needs_logits"] and not leep["needs_features"] and leep["needs_labels"]
    assert tables.measure_needs("log_me", "estimator")["needs_features"]
    assert not any(tables.measure_needs("param_count", "baseline").values())


def test_join_names_a_missing_pair():
    sources = {"a": {"family": "mlp", "size": "s", "arch": "x", "dataset": "d"},
               "b": {"family": "mlp", "size": "l", "arch": "y", "dataset": "d"}}
    adv = [pd.DataFrame({"model": [m], "target": ["t"], "tau1": [0.5]}) for m in "ab"]
    probes = [pd.DataFrame({"model": ["a"], "target": ["t"], "probe_accuracy": [0.9]})]
    est = [pd.DataFrame({"model": ["a", "b"], "log_me": [1.0, 2.0], "log_me_s": [0.1, 0.1]})]
    with pytest.raises(ValueError, match="b/t missing"):
        tables.join_tables(sources=sources, targets=["t"], adversarial=adv, probes=probes,
                           estimators=est)
    probes = [pd.DataFrame({"model": ["a", "b"], "target": "t", "probe_accuracy": [0.9, 0.8]})]
    out = tables.join_tables(sources=sources, targets=["t"], adversarial=adv, probes=probes,
                             estimators=est)
    assert list(out["model"]) == ["a", "b"] and "log_me_s" not in out and "log_me" in out


def _board(adv, est, size, n=18):
    rows = []
    for measure, kind, (tau, lo, hi) in (("cross_adv_loss", "adversarial", adv),
                                        ("log_me", "estimator", est),
                                        ("param_count", "baseline", size)):
        for target in ("t1", "t2", "mean"):
            rows.append({"target": target, "truth": "probe_accuracy", "measure": measure,
                         "kind": kind, "weighted_tau": tau, "weighted_tau_lo": lo,
                         "weighted_tau_hi": hi, "n_sources": n, "n_targets": 2,
                         "weighted_tau_without_largest": tau - 0.1})
    return pd.DataFrame(rows)


@pytest.mark.parametrize(("adv", "verdict"), [
    ((0.9, 0.85, 0.95), "supported"),
    ((0.1, 0.0, 0.2), "not supported"),
    ((0.6, 0.4, 0.8), "inconclusive"),
])
def test_zoo_verdict_follows_the_intervals(adv, verdict):
    found = findings.zoo_finding(_board(adv, (0.6, 0.5, 0.7), (0.55, 0.45, 0.65)),
                                 primary=("cross_adv_loss", "probe_accuracy"))
    assert found.verdict.startswith(verdict + ":")
    lines = dict(found.lines)
    assert lines["Pool"] == "18 sources, 2 targets"
    assert lines["Best estimator"] == "`log_me`: mean τ_w 0.6 [0.5, 0.7]"


def test_zoo_verdict_without_enough_sources():
    found = findings.zoo_finding(_board((0.9, 0.85, 0.95), (0.6, 0.5, 0.7), (0.5, 0.4, 0.6), n=4))
    assert found.verdict.startswith("inconclusive: n = 4 sources")
    assert "[" not in dict(found.lines)["Best adversarial"]
