"""Attributes scenario: digits attributes, pairs, data sets, labels and Table 1 logic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import REPO

from advtransfer.attributes import experiment
from advtransfer.config import load_schema, validate_config
from advtransfer.images import datasets, imagesets


def _section(**changes) -> dict:
    cfg = {"scenarios": ["attributes"], "attributes": changes}
    validate_config(cfg, load_schema(REPO / "schemas/config.schema.yaml"))
    return cfg["attributes"]


def test_image_attributes_on_hand_made_digits():
    x = np.zeros((4, 1, 8, 8), dtype=np.float32)
    x[0, 0, :, 3] = 1.0  # thin vertical bar
    x[1, 0, :, 1:7] = 1.0  # wide block
    x[2, 0, 0:3, 2:6] = 1.0  # ink at the top
    for r in range(8):  # a stroke leaning right: top to the right, bottom to the left
        x[3, 0, r, 7 - r] = 1.0
    y = np.array([1, 2, 6, 7])
    v = experiment.digits_attribute_values(x, y)
    assert list(v) == list(experiment.DIGITS_ATTRIBUTES)
    np.testing.assert_array_equal(v["even"], [0, 1, 1, 0])
    np.testing.assert_array_equal(v["prime"], [0, 1, 0, 1])
    np.testing.assert_array_equal(v["greater_than_four"], [0, 0, 1, 1])
    np.testing.assert_array_equal(v["closed_loop"], [0, 0, 1, 0])
    assert v["ink"][1] == 1 and v["ink"][0] == 0
    assert v["width"][1] == 1 and v["width"][0] == 0
    assert v["slant"][3] == 1 and v["slant"][0] == 0
    assert v["top_heavy"][2] == 1 and v["top_heavy"][1] == 0


def test_digits_attributes_are_roughly_balanced():
    x, y = datasets.load_digits_images()
    v = experiment.digits_attribute_values(x, y)
    for name, values in v.items():
        assert 0.35 < values.mean() < 0.65, name


def test_pairs_are_balanced_per_fold_and_correct():
    y = np.repeat(np.arange(5), 7)
    first, second, same = experiment.make_pairs(y, 100, folds=10, seed=3)
    assert len(same) == 100 and (first != second).all()
    np.testing.assert_array_equal(same, y[first] == y[second])
    assert all(block.sum() == 5 for block in np.array_split(same, 10))
    again = experiment.make_pairs(y, 100, folds=10, seed=3)
    np.testing.assert_array_equal(again[0], first)
    with pytest.raises(ValueError, match=">= 2 images"):
        experiment.make_pairs(np.array([0, 1, 1]), 10, folds=2, seed=0)


def test_check_config_names_the_problem():
    experiment.check_config(_section())
    with pytest.raises(ValueError, match="unknown digits attribute.*'smiling'.*valid names: even"):
        experiment.check_config(_section(attributes=["even", "smiling"]))
    with pytest.raises(ValueError, match="not digits benchmarks"):
        experiment.check_config(_section(verification={"benchmarks": ["lfw"]}))
    with pytest.raises(ValueError, match="unknown celeba attribute"):
        experiment.check_config(_section(dataset="celeba", attributes=["even", "Smiling"]))
    assert len(experiment.attribute_names(_section(dataset="celeba", attributes=None))) == 40


def test_digits_data_sets_and_labels(tmp_path):
    cfg = _section(attributes=["even", "ink"], verification={"pairs": 40})
    built = experiment.build_datasets(cfg)
    target = built["target"]
    arrays, meta = target["arrays"], target["meta"]
    assert set(arrays) >= {"x_train", "y_train", "x_val", "x_test", "attr_even_train",
                           "attr_ink_test"}
    np.testing.assert_array_equal(arrays["attr_even_train"], arrays["y_train"] % 2 == 0)
    n_train_pool = sum(len(arrays[f"y_{s}"]) for s in ("train", "val", "test"))
    n_held = sum(len(v) for k, v in built["probe"]["arrays"].items() if k.startswith("y_"))
    assert n_train_pool + n_held == 1797 and abs(n_held - 0.2 * 1797) < 10
    pairs = built["pairs"]
    assert set(pairs) == {"digits", "digits_shift"}
    assert pairs["digits"]["arrays"]["x"].shape == (80, 1, 8, 8)
    assert not np.allclose(pairs["digits"]["arrays"]["x"], pairs["digits_shift"]["arrays"]["x"])
    path = tmp_path / "target.safetensors"
    imagesets.save_imageset(path, arrays, meta)
    labels = imagesets.load_labels(path, "attr_ink", "val")
    assert labels.dtype == torch.int64 and len(labels) == len(arrays["y_val"])
    assert imagesets.label_classes(imagesets.load_meta(path), "attr_ink") == ["not ink", "ink"]
    assert imagesets.label_classes(imagesets.load_meta(path), "y")[:2] == ["zero", "one"]
    with pytest.raises(KeyError, match="no labels 'attr_slant'"):
        imagesets.load_labels(path, "attr_slant", "val")


def _fake_table() -> pd.DataFrame:
    rows = []
    for i, (name, loss, verif) in enumerate(
        [("a", 2.0, 0.9), ("b", 1.0, 0.7), ("c", 4.0, 0.8), ("d", 3.0, 0.6)]
    ):
        for seed in (0, 1):
            rows.append({"model": f"{name}_s{seed}", "attribute": name, "seed": seed,
                         "cross_adv_loss": loss + 0.1 * seed, "verif_x": verif,
                         "verif_y": verif - 0.1, "verification_accuracy": verif - 0.05,
                         "kshot_accuracy": 0.5})
    return pd.DataFrame(rows)


def test_transfer_table_keeps_the_cross_loss_under_its_own_name():
    t = _fake_table()
    table = experiment.transfer_table(
        t[["model", "attribute", "seed"]], t[["model", "cross_adv_loss"]],
        t.drop(columns=["attribute", "seed", "cross_adv_loss"]),
    )
    assert "adv_transferability" not in table  # one name in every scenario
    np.testing.assert_allclose(table["cross_adv_loss"], t["cross_adv_loss"])
    assert experiment.ADVERSARIAL_MEASURES[0] == "cross_adv_loss"


def test_table1_ranks_attributes_and_appends_the_reference():
    t = _fake_table()
    ref = {"verif_x": 0.99, "verif_y": 0.98, "verification_accuracy": 0.985, "kshot_accuracy": 0.9}
    top = experiment.table1(t, ["x", "y"], top=3, reference=ref)
    assert list(top["attribute"]) == ["c", "d", "a", "identity (reference)"]
    assert list(top["rank"][:3]) == [1, 2, 3] and pd.isna(top["rank"][3])
    assert list(top["verification_rank"][:3]) == [2, 4, 1]  # by mean verification accuracy
    assert top["verif_x"][0] == pytest.approx(0.8) and top["verification_mean"][3] == 0.985


def test_adversarial_measures_of_a_binary_source_and_feature_jacobians():
    from advtransfer.core import tau
    from advtransfer.images import measures
    from advtransfer.images.architectures import build_model

    torch.manual_seed(0)
    source = build_model("digits_cnn", 2, 1, [0.3], [0.4]).eval()
    reference = build_model("digits_cnn", 10, 1, [0.3], [0.4], head="arcface").eval()
    x = torch.rand(6, 1, 8, 8)
    y = torch.tensor([0, 9, 3, 7, 5, 2])  # identity labels beyond the source's two classes
    x_adv = (x + 0.05).clamp(0, 1)
    out = measures.adversarial_measures(source, reference, x, y, x_adv, x_adv.flip(0),
                                        jacobian_points=4, jacobian_output="features")
    jac_s = tau.input_jacobians(measures._Features(source), x[:4]).double()
    jac_r = tau.input_jacobians(measures._Features(reference), x[:4]).double()
    assert jac_s.shape == (4, 64, 64)
    expected = tau.adversarial_transferability(jac_s, jac_r)
    assert out["tau1"] == pytest.approx(float(expected["tau1"]))
    assert out["tau2"] == pytest.approx(float(expected["tau2"]))
    logits = measures.adversarial_measures(source, reference, x, y, x_adv, x_adv,
                                           jacobian_points=4)
    assert 0 <= logits["tau1"] <= 1 and 0 <= logits["source_flip_rate"] <= 1
    with pytest.raises(ValueError, match="jacobian_output"):
        measures.adversarial_measures(source, reference, x, y, x_adv, x_adv,
                                      jacobian_output="embedding")
