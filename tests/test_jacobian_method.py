"""jacobian_method (auto | exact | matrix_free) of the image scenarios' adversarial measures."""

from __future__ import annotations

import logging

import pandas as pd
import pytest
import torch

from advtransfer.images import measures
from advtransfer.images.architectures import build_model

TAU_KEYS = ("tau1", "tau2", "alpha", "lambda_source", "lambda_reference")


def _args(d_source: int = 4):
    torch.manual_seed(0)
    source = build_model("digits_cnn", d_source, 1, [0.3], [0.4]).eval()
    reference = build_model("digits_cnn", 10, 1, [0.3], [0.4]).eval()
    x = torch.rand(6, 1, 8, 8)
    y = torch.tensor([0, 9, 3, 7, 5, 2])
    x_adv = (x + 0.05).clamp(0, 1)
    return source, reference, x, y, x_adv, x_adv.flip(0)


@pytest.mark.parametrize("shape, budget, expected", [
    ((200, 10, 10, 64), 2000, "exact"),              # 1 MB of Jacobians
    ((1000, 8000, 512, 3 * 64 * 64), 2000, "matrix_free"),   # ~400 GB
    ((200, 10, 10, 64), 0.5, "matrix_free"),         # the same small case, tiny budget
])
def test_auto_picks_by_memory_budget(shape, budget, expected, caplog):
    with caplog.at_level(logging.INFO, logger=measures.__name__):
        assert measures.choose_jacobian_method("auto", *shape, memory_mb=budget) == expected
    assert f"-> {expected}" in caplog.text  # the choice is logged
    assert measures.choose_jacobian_method("exact", *shape, memory_mb=budget) == "exact"
    assert measures.choose_jacobian_method("matrix_free", *shape) == "matrix_free"


def test_default_budget_is_documented_value():
    assert measures.JACOBIAN_MEMORY_MB == 2000
    # 4 points x (4 + 10) outputs x 64 pixels x 4 bytes = 14 kB: exact by default
    assert measures.choose_jacobian_method("auto", 4, 4, 10, 64) == "exact"


@pytest.mark.parametrize("output", ["centered_logits", "logits", "features"])
def test_exact_and_matrix_free_give_the_same_row(output):
    args = _args()
    exact = measures.adversarial_measures(*args, jacobian_points=4, jacobian_output=output,
                                          jacobian_method="exact")
    auto_small = measures.adversarial_measures(*args, jacobian_points=4, jacobian_output=output,
                                               jacobian_memory_mb=1e-6)  # auto, tiny budget
    free = measures.adversarial_measures(*args, jacobian_points=4, jacobian_output=output,
                                         jacobian_method="matrix_free")
    assert exact["jacobian_method"] == "exact" and exact["n_not_converged"] == 0
    assert free["jacobian_method"] == "matrix_free" == auto_small["jacobian_method"]
    assert free["n_not_converged"] == 0
    assert set(free) == set(exact)
    for key in TAU_KEYS:
        assert free[key] == pytest.approx(exact[key], abs=1e-3), key
        assert auto_small[key] == free[key]
    for key in set(exact) - set(TAU_KEYS) - {"jacobian_method", "tau2_logits"}:
        assert free[key] == exact[key], key
    if output == "logits":
        assert free["tau2_logits"] == free["tau2"]
    elif output == "features":  # no logit Jacobians on either path
        assert free["tau2_logits"] != free["tau2_logits"]
        assert exact["tau2_logits"] != exact["tau2_logits"]
    else:  # a second solve, of the source's raw logits, on the matrix-free path
        assert free["tau2_logits"] == pytest.approx(exact["tau2_logits"], abs=1e-3)


@pytest.mark.parametrize("output", ["centered_logits", "log_softmax"])
def test_matrix_free_tau2_logits_is_finite_and_matches_exact(output):
    # float32 models: the matrix-free tau2 on the raw logits beside the invariant tau2
    args = _args(d_source=10)
    exact = measures.adversarial_measures(*args, jacobian_points=6, jacobian_output=output,
                                          jacobian_method="exact")
    free = measures.adversarial_measures(*args, jacobian_points=6, jacobian_output=output,
                                         jacobian_method="matrix_free")
    assert free["tau2_logits"] == free["tau2_logits"]  # not NaN
    assert free["tau2_logits"] == pytest.approx(exact["tau2_logits"], abs=1e-3)
    assert free["tau2"] == pytest.approx(exact["tau2"], abs=1e-3)


def test_unknown_method_is_rejected():
    with pytest.raises(ValueError, match="jacobian_method"):
        measures.adversarial_measures(*_args(), jacobian_points=4, jacobian_method="svd")


@pytest.mark.parametrize("output", ["centered_logits", "logits"])
def test_text_measures_matrix_free_match_exact(output, tmp_path):
    # the NLP measures take the same jacobian_method; exact stays the default
    pytest.importorskip("transformers", reason="the nlp scenario needs transformers")
    from advtransfer.nlp import corpora, models
    from advtransfer.nlp import measures as text_measures

    models.set_offline()
    texts, labels = corpora.generate_corpus("movie_reviews", 24, 0, label_noise=0.0)
    enc = models.resolve_encoder({"kind": "random", "random": {
        "vocab_size": 300, "hidden_size": 16, "num_hidden_layers": 1,
        "num_attention_heads": 2, "intermediate_size": 32, "seed": 0}},
        out_dir=tmp_path, texts=texts)
    source, reference = (models.finetune_classifier(
        models.encoder_path(enc), (texts[:16], labels[:16]), (texts[16:], labels[16:]),
        num_labels=k, epochs=1, batch_size=8, lr=1e-3, max_length=24, seed=k)[0]
        for k in (2, 3))
    table = pd.DataFrame({"index": range(4), "label": labels[:4], "text": texts[:4],
                          "adv_text": texts[:4], "success": False, "n_changed": 0,
                          "n_words": 5, "queries": 1, "changes": "[]"})
    rows = {m: text_measures.text_adversarial_measures(
        source, reference, table, table, jacobian_points=4, jacobian_output=output,
        jacobian_method=m) for m in ("exact", "matrix_free")}
    default = text_measures.text_adversarial_measures(source, reference, table, table,
                                                      jacobian_points=4, jacobian_output=output)
    assert default["jacobian_method"] == "exact" == rows["exact"]["jacobian_method"]
    assert rows["matrix_free"]["jacobian_method"] == "matrix_free"
    assert rows["matrix_free"]["n_not_converged"] == 0
    for key in (*TAU_KEYS, "tau2_logits"):
        assert rows["matrix_free"][key] == pytest.approx(rows["exact"][key], abs=1e-3), key
    with pytest.raises(ValueError, match="jacobian_method"):
        text_measures.text_adversarial_measures(source, reference, table, table,
                                                jacobian_points=4, jacobian_method="svd")
