"""Tests of advtransfer.nlp.data (loaders, splits, formats) and advtransfer.nlp.corpora."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from advtransfer.nlp import corpora, data

DATA = Path(__file__).parent / "data" / "nlp"


def spec(**kw):
    base = {"loader": "csv", "train": None, "test": None, "text_column": "text",
            "label_column": "label", "classes": None, "n_train": None, "n_val": 0,
            "n_test": None, "seed": 0, "obtain": None, "path": None}
    return {**base, **kw}


def test_csv_with_integer_and_named_labels():
    s = spec(train=str(DATA / "reviews_train.csv"), test=str(DATA / "reviews_test.csv"),
             classes=["negative", "positive"], n_val=4)
    frame, meta = data.prepare_dataset("reviews", s)
    assert meta["classes"] == ["negative", "positive"]
    assert meta["counts"] == {"train": 28, "val": 4, "test": 16}
    raw_test = pd.read_csv(DATA / "reviews_test.csv")
    test = frame[frame["split"] == "test"].set_index("text")["label"]
    expected = raw_test.set_index("text")["label"].map({"negative": 0, "positive": 1})
    assert (test.loc[expected.index] == expected).all()
    # val comes from the training file, never from the test file
    train_texts = set(pd.read_csv(DATA / "reviews_train.csv")["text"])
    assert set(frame.loc[frame["split"] == "val", "text"]) <= train_texts


def test_csv_text_columns_joined_and_test_drawn_from_train():
    s = spec(train=str(DATA / "restaurants.csv"), text_column=["title", "body"], n_val=4,
             n_test=8)
    frame, meta = data.prepare_dataset("restaurants", s)
    assert meta["counts"] == {"train": 20, "val": 4, "test": 8}
    assert not frame.duplicated("text").any()
    raw = pd.read_csv(DATA / "restaurants.csv")
    assert (raw["title"] + ". " + raw["body"]).isin(frame["text"]).all()


def test_json_lines_with_class_names_and_determinism():
    s = spec(loader="json", train=str(DATA / "news.jsonl"), n_val=4, n_test=8, seed=5)
    first, meta = data.prepare_dataset("news", s)
    second, _ = data.prepare_dataset("news", s)
    assert first.equals(second)
    assert meta["classes"] == ["Business", "Sci/Tech", "Sports", "World"]
    other, _ = data.prepare_dataset("news", {**s, "seed": 6})
    assert not first.equals(other)


def test_json_array(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps([{"text": "good film", "label": 1},
                                {"text": "bad film", "label": 0}] * 3))
    frame, meta = data.prepare_dataset("tiny", spec(loader="json", train=str(path),
                                                         n_test=2))
    assert meta["classes"] == ["0", "1"] and len(frame) == 6


def test_missing_file_names_it_and_the_fix(tmp_path):
    missing = tmp_path / "nowhere" / "train.csv"
    with pytest.raises(data.DatasetMissingError) as err:
        data.check_local_dataset("fake", spec(train=str(missing)))
    assert str(missing) in str(err.value) and "To obtain" in str(err.value)
    assert "nlp.datasets.fake" in str(err.value)
    with pytest.raises(data.DatasetMissingError, match="kaggle competitions download"):
        data.check_local_dataset(
            "fake", spec(train=str(missing), obtain="kaggle competitions download -c fake-news"))


def test_bad_labels_are_reported(tmp_path):
    path = tmp_path / "bad.csv"
    pd.DataFrame({"text": ["a b", "c d"], "label": ["pos", "maybe"]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="maybe"):
        data.prepare_dataset("bad", spec(train=str(path), classes=["neg", "pos"], n_test=1))


def test_synthetic_loader_and_corpora():
    s = spec(loader="synthetic", path="news_topics", n_train=40, n_val=10, n_test=20, seed=4)
    _, meta = data.prepare_dataset("ag", s)
    assert meta["classes"] == ["World", "Sports", "Business", "Sci/Tech"]
    assert meta["counts"] == {"train": 40, "val": 10, "test": 20}
    for kind in corpora.CORPORA:
        texts, labels = corpora.generate_corpus(kind, 200, 1)
        again, _ = corpora.generate_corpus(kind, 200, 1)
        assert texts == again and len(set(texts)) > 190
        assert labels.min() >= 0 and labels.max() < len(corpora.corpus_classes(kind))
        assert np.bincount(labels).min() > 200 / len(corpora.corpus_classes(kind)) / 2
    with pytest.raises(ValueError, match="unknown stand-in corpus"):
        corpora.generate_corpus("tweets", 3, 0)
    assert corpora.word_polarity("Wonderful") == 1
    assert corpora.word_polarity("dull") == -1 and corpora.word_polarity("plot") == 0


def test_normalised_file_round_trip(tmp_path):
    frame, _ = data.prepare_dataset(
        "r", spec(train=str(DATA / "reviews_train.csv"), n_test=5, n_val=2))
    path = tmp_path / "r.csv"
    frame.to_csv(path, index=False)
    back = data.read_dataset(path)
    assert back.equals(frame)
    texts, labels = data.split_texts(back, "val")
    assert len(texts) == 2 and labels.dtype == np.int64


def test_word_vectors(tmp_path):
    path = tmp_path / "vectors.txt"
    path.write_text("3 2\ngood 1.0 0.0\ngreat 0.9 0.1\ntable 0.0 1.0\n")
    words, vectors = data.load_word_vectors(path)
    assert words == ["good", "great", "table"] and vectors.shape == (3, 2)
    words, _ = data.load_word_vectors(path, vocabulary={"good", "table"})
    assert words == ["good", "table"]
    with pytest.raises(data.DatasetMissingError, match="counter-fitted"):
        data.load_word_vectors(tmp_path / "counter-fitted-vectors.txt")


def test_hf_loader_local_directory_and_missing_id(tmp_path):
    pytest.importorskip("datasets", reason="the hf loader needs the datasets package")
    local = tmp_path / "local"
    local.mkdir()
    pd.DataFrame({"text": ["good film", "bad film", "great movie", "awful movie"],
                  "label": [1, 0, 1, 0]}).to_csv(local / "train.csv", index=False)
    pd.DataFrame({"text": ["nice film", "poor film"], "label": [1, 0]}).to_csv(
        local / "test.csv", index=False)
    s = spec(loader="hf", path=str(local), train_split="train", test_split="test",
             classes=["neg", "pos"], n_val=1, config_name=None, revision=None)
    frame, meta = data.prepare_dataset("local", s, cache_dir=str(tmp_path / "cache"))
    assert meta["counts"] == {"train": 3, "val": 1, "test": 2}
    assert set(frame.loc[frame["split"] == "test", "text"]) == {"nice film", "poor film"}
    with pytest.raises(data.DatasetMissingError) as err:  # offline: no network access
        data.prepare_dataset("imdb", {**s, "path": "stanfordnlp/imdb", "classes": None},
                                  cache_dir=str(tmp_path / "empty"))
    assert "stanfordnlp/imdb" in str(err.value) and "allow_download" in str(err.value)
