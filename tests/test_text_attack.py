"""Tests of advtransfer.nlp.attack: the TextFooler-style attack on hand-built classifiers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advtransfer.nlp.attack import (
    STOP_WORDS,
    WORD_PATTERN,
    EmbeddingNeighbours,
    change_budget,
    deletion_importance,
    textfooler_attack,
)
from advtransfer.nlp.measures import attack_indices, attack_sentences


class BagOfWords:
    """p(positive) = sigmoid(scale * sum of word weights); counts its calls."""

    def __init__(self, weights: dict[str, float], scale: float = 4.0) -> None:
        self.weights, self.scale, self.calls = weights, scale, 0

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls += len(texts)
        score = np.array([sum(self.weights.get(w.lower(), 0.0) for w in WORD_PATTERN.findall(t))
                          for t in texts])
        p = 1.0 / (1.0 + np.exp(-self.scale * score))
        return np.stack([1.0 - p, p], axis=1)


def table(mapping: dict[str, list[tuple[str, float]]]):
    return lambda word: mapping.get(word, [])


FILLER = "I watched the film with my sister on a rainy evening at the old cinema downtown"


def test_finds_the_flip_on_the_decisive_word():
    # Only "wonderful" carries weight; its one candidate "awful" flips the prediction.
    text = f"{FILLER} and it was Wonderful"
    model = BagOfWords({"wonderful": 1.0, "awful": -1.0})
    neighbours = table({"wonderful": [("awful", 0.6)], "film": [("movie", 0.9)],
                        "cinema": [("theatre", 0.8)]})
    res = textfooler_attack(text, model, neighbours, max_change_rate=0.1)
    assert res.success and res.label == 1 and res.adversarial_label == 0
    index = [m.group() for m in WORD_PATTERN.finditer(text)].index("Wonderful")
    assert res.changes == ((index, "Wonderful", "Awful"),)  # case kept
    assert res.adversarial == f"{FILLER} and it was Awful"
    # the decisive word ranks first by deletion: clean + deletions + one candidate
    n_attackable = sum(w.lower() not in STOP_WORDS for w in WORD_PATTERN.findall(text))
    assert res.queries == 1 + n_attackable + 1 == model.calls
    assert res.confidence[0] > 0.9 and res.confidence[1] < 0.1


def test_keeps_the_perturbed_text_when_the_budget_runs_out_without_a_flip():
    # "great" -> "good" lowers the confidence but cannot flip it: as in TextFooler, the
    # failed attack returns the text with every kept substitution, not the clean text.
    text = f"{FILLER} and the acting was great and the music was great too"
    model = BagOfWords({"great": 1.0, "good": 0.6})
    neighbours = table({"great": [("good", 0.7)]})
    res = textfooler_attack(text, model, neighbours, max_change_rate=0.2)
    assert not res.success
    assert res.adversarial == f"{FILLER} and the acting was good and the music was good too"
    assert [c[1:] for c in res.changes] == [("great", "good"), ("great", "good")]
    assert res.n_changed == 2 <= res.budget
    assert res.adversarial_label == res.label == 1
    clean, adv = model([text, res.adversarial])[:, 1]
    assert res.confidence == pytest.approx((clean, adv)) and adv < clean
    # with a budget of one word only the most important substitution is kept
    one = textfooler_attack(text, model, neighbours, max_change_rate=0.04)
    assert one.budget == 1 and not one.success and one.n_changed == 1
    # the similarity of the returned text is that of the last kept substitution
    sims = textfooler_attack(text, model, neighbours, max_change_rate=0.2,
                             similarity=lambda ts, o: np.array([0.99 - 0.01 * t.count("good")
                                                                for t in ts]))
    assert sims.similarity == pytest.approx(0.97)


def test_returns_the_original_when_no_substitution_helps():
    text = f"{FILLER} and the acting was great"
    model = BagOfWords({"great": 1.0, "superb": 1.5})  # the only candidate raises f_y0
    res = textfooler_attack(text, model, table({"great": [("superb", 0.7)]}),
                            max_change_rate=0.2)
    assert not res.success and res.adversarial == text and res.changes == ()


def test_attack_table_keeps_failed_perturbations_and_the_success_rate():
    texts = [f"{FILLER} and the acting was great and the music was great too",
             f"{FILLER} and it was Wonderful"]
    model = BagOfWords({"great": 1.0, "good": 0.6, "wonderful": 1.0, "awful": -1.0})
    neighbours = table({"great": [("good", 0.7)], "wonderful": [("awful", 0.6)]})
    rows = attack_sentences(model, texts, [1, 1], [0, 1], neighbours, max_change_rate=0.2)
    assert list(rows["success"]) == [False, True]
    assert (rows["adv_text"] != rows["text"]).all()  # the failed attack's text is perturbed too
    assert list(rows["n_changed"]) == [2, 1]
    # text_adversarial_measures reports this as the source's own attack success rate
    assert float(rows["success"].mean()) == 0.5


def test_budget_zero_changes_nothing_and_costs_one_query():
    model = BagOfWords({"wonderful": 1.0, "awful": -1.0})
    res = textfooler_attack("short and wonderful", model, table({"wonderful": [("awful", .9)]}),
                            max_change_rate=0.1)
    assert res.budget == 0 and not res.success and res.adversarial == "short and wonderful"
    assert model.calls == 1


def test_stop_words_are_kept_and_never_inserted():
    text = f"{FILLER} and it was not wonderful but it was not bad either"
    model = BagOfWords({"wonderful": 1.0, "not": -0.2, "awful": -2.0, "bad": -0.3})
    # stop words offered as candidates must be ignored; stop words have candidates too
    neighbours = table({"wonderful": [("the", 0.99), ("never", 0.98), ("awful", 0.5)],
                        "not": [("definitely", 0.9)], "it": [("awful", 0.9)]})
    res = textfooler_attack(text, model, neighbours, max_change_rate=0.1)
    words = WORD_PATTERN.findall(text)
    adv_words = WORD_PATTERN.findall(res.adversarial)
    assert len(words) == len(adv_words)
    for old, new in zip(words, adv_words):
        if old.lower() in STOP_WORDS:
            assert new == old
        if new != old:
            assert new.lower() not in STOP_WORDS
    assert res.success and [c[2] for c in res.changes] == ["awful"]


VOCAB = ["great", "good", "fine", "awful", "bad", "dull", "plot", "movie", "actor", "music",
         "scene", "story", "the", "and", "was", "not", "it", "very"]


@settings(max_examples=60, deadline=None)
@given(
    words=st.lists(st.sampled_from(VOCAB), min_size=1, max_size=45),
    weights=st.lists(st.floats(-2, 2), min_size=len(VOCAB), max_size=len(VOCAB)),
    rate=st.sampled_from([0.0, 0.05, 0.1, 0.2, 0.5]),
)
def test_never_changes_more_than_the_budget(words, weights, rate):
    text = " ".join(words)
    model = BagOfWords(dict(zip(VOCAB, weights)))
    neighbours = EmbeddingNeighbours(VOCAB, np.random.default_rng(0).normal(size=(len(VOCAB), 4)),
                                     k=5, min_cosine=-1.0, exclude=STOP_WORDS)
    res = textfooler_attack(text, model, neighbours, max_change_rate=rate)
    adv = WORD_PATTERN.findall(res.adversarial)
    assert len(adv) == len(words)
    changed = sum(a != b for a, b in zip(words, adv))
    assert changed == res.n_changed <= res.budget == int(np.floor(rate * len(words) + 1e-9))
    assert all(a == b for a, b in zip(words, adv) if b in STOP_WORDS)
    if not res.success:  # the perturbed text is kept: the prediction did not flip
        assert res.adversarial_label == res.label
        assert (res.adversarial == text) == (res.n_changed == 0)


def test_deterministic_given_the_seed():
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(len(VOCAB), 5))
    weights = dict(zip(VOCAB, rng.normal(size=len(VOCAB))))
    texts = [" ".join(rng.choice(VOCAB, size=25)) for _ in range(30)]
    labels = rng.integers(0, 2, size=30)

    def run(seed):
        neighbours = EmbeddingNeighbours(VOCAB, vectors, k=4, min_cosine=-1.0,
                                         exclude=STOP_WORDS)
        idx = attack_indices(len(texts), 10, seed)
        return attack_sentences(BagOfWords(weights), texts, labels, idx, neighbours,
                                max_change_rate=0.1)

    first, second = run(7), run(7)
    assert first.equals(second)
    assert first["success"].any()
    assert not np.array_equal(attack_indices(30, 10, 7), attack_indices(30, 10, 8))


def test_similarity_filter_picks_an_allowed_candidate():
    text = f"{FILLER} and it was wonderful"
    model = BagOfWords({"wonderful": 1.0, "awful": -1.0, "dreadful": -1.0})
    neighbours = table({"wonderful": [("awful", 0.9), ("dreadful", 0.8)]})

    def similarity(texts, original):
        return np.array([0.5 if "awful" in t else 0.95 for t in texts])

    res = textfooler_attack(text, model, neighbours, similarity=similarity,
                            min_similarity=0.9)
    assert res.success and res.changes[0][2] == "dreadful" and res.similarity == 0.95
    with pytest.raises(ValueError, match="similarity function"):
        textfooler_attack(text, model, neighbours, min_similarity=0.9)


def test_deletion_importance_formula():
    clean = np.array([0.2, 0.8])
    deleted = np.array([[0.3, 0.7], [0.9, 0.1], [0.2, 0.8]])
    # word 0: 0.8 - 0.7; word 1 flips: (0.8 - 0.1) + (0.9 - 0.2); word 2: 0
    np.testing.assert_allclose(deletion_importance(clean, deleted), [0.1, 1.4, 0.0])


def test_change_budget_rounds_down():
    assert [change_budget(n, 0.1) for n in (0, 9, 10, 19, 20, 35)] == [0, 0, 1, 1, 2, 3]
    assert change_budget(50, 0.0) == 0 and change_budget(7, 1.0) == 7
    with pytest.raises(ValueError):
        change_budget(10, 1.5)


def test_embedding_neighbours():
    words = ["good", "great", "pleasant", "unpleasant", "the", "table"]
    vectors = np.array([[1.0, 0.0], [0.9, 0.1], [0.95, 0.05], [0.94, 0.06], [1.0, 0.0],
                        [0.0, 1.0]])
    plain = EmbeddingNeighbours(words, vectors, k=10, min_cosine=0.5, exclude={"the"})
    found = [w for w, _ in plain("good")]
    assert found[0] == "pleasant" and "the" not in found and "table" not in found
    assert "good" not in found and plain("unknown") == []
    guarded = EmbeddingNeighbours(words, vectors, k=10, min_cosine=0.5,
                                  drop_negated_forms=True)
    assert "unpleasant" not in [w for w, _ in guarded("pleasant")]
    with pytest.raises(ValueError):
        EmbeddingNeighbours(words, vectors[:3])
