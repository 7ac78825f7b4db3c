"""Verification: 10-fold threshold accuracy, embeddings, and the insightface .bin reader."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from advtransfer.attributes.verification import (
    decode_images,
    embed,
    load_bin_pairs,
    missing_benchmarks,
    pair_scores,
    read_bin,
    verification_accuracy,
)
from fakes_faces import encode_image, py2_bin_pickle, write_fake_bin


def _separable_embeddings(n_pairs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs whose cosine is > 0.8 when same and < 0.2 when different."""
    rng = np.random.default_rng(seed)
    issame = rng.permutation(np.arange(n_pairs) % 2 == 0)
    emb = []
    for same in issame:
        a = rng.normal(size=16)
        a /= np.linalg.norm(a)
        noise = rng.normal(size=16)
        noise -= noise @ a * a
        noise /= np.linalg.norm(noise)
        cos = rng.uniform(0.8, 1.0) if same else rng.uniform(-1.0, 0.2)
        b = cos * a + np.sqrt(1 - cos**2) * noise
        emb += [a * rng.uniform(0.5, 3), b * rng.uniform(0.5, 3)]
    return np.asarray(emb), issame


def test_pair_scores_are_cosines():
    emb = np.array([[1.0, 0.0], [2.0, 0.0], [1.0, 0.0], [0.0, 3.0], [1.0, 1.0], [-1.0, -1.0]])
    np.testing.assert_allclose(pair_scores(emb), [1.0, 0.0, -1.0])
    with pytest.raises(ValueError, match="2P"):
        pair_scores(np.zeros((3, 2)))


def test_separable_embeddings_give_accuracy_one():
    emb, issame = _separable_embeddings(600, seed=0)
    scores = pair_scores(emb)
    assert scores[issame].min() > 0.8 - 1e-9 and scores[~issame].max() < 0.2 + 1e-9
    res = verification_accuracy(scores, issame, folds=10)
    assert res["accuracy"] == 1.0 and res["accuracy_std"] == 0.0
    assert len(res["fold_accuracy"]) == 10 and res["pairs"] == 600
    assert all(0.2 < t < 0.8 for t in res["thresholds"])


def test_random_embeddings_give_about_one_half():
    rng = np.random.default_rng(1)
    issame = rng.permutation(np.arange(3000) % 2 == 0)
    res = verification_accuracy(pair_scores(rng.normal(size=(6000, 32))), issame, folds=10)
    assert abs(res["accuracy"] - 0.5) < 0.04


def test_threshold_comes_from_the_other_folds():
    # fold 0 alone has "same" pairs with low scores: its threshold is learnt elsewhere
    scores = np.r_[np.full(5, 0.1), np.linspace(0.6, 0.9, 45), np.linspace(-0.9, -0.3, 50)]
    issame = np.r_[np.ones(50, bool), np.zeros(50, bool)]
    res = verification_accuracy(scores, issame, folds=10)
    assert res["fold_accuracy"][0] == 0.5 and res["accuracy"] == pytest.approx(0.95)
    with pytest.raises(ValueError, match="at least 10 pairs"):
        verification_accuracy(scores[:5], issame[:5])


def test_embed_with_flip_adds_the_mirror_image():
    class Mean(torch.nn.Module):
        def features(self, x):
            return x[:, 0].flatten(1)

    x = torch.rand(4, 1, 2, 3)
    out = embed(Mean(), x, flip=True)
    torch.testing.assert_close(out, x[:, 0].flatten(1) + x[:, 0].flip(-1).flatten(1))
    u8 = (x * 255).round().to(torch.uint8)
    torch.testing.assert_close(embed(Mean(), u8), u8[:, 0].flatten(1).float() / 255)


@pytest.mark.parametrize("style", ["py2", "py3", "py3_protocol2"])
def test_bin_reader_round_trip(tmp_path, style):
    path = tmp_path / "lfw.bin"
    images, issame = write_fake_bin(path, n_pairs=6, size=16, seed=2, style=style, fmt="PNG")
    bins, flags = read_bin(path)
    assert len(bins) == 12 and flags.dtype == bool
    np.testing.assert_array_equal(flags, issame)
    x, same = load_bin_pairs(path)
    assert x.shape == (12, 3, 16, 16) and x.dtype == np.uint8
    np.testing.assert_array_equal(x, images.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(same, issame)
    assert decode_images(bins[:2], size=8).shape == (2, 3, 8, 8)


def test_bin_reader_refuses_code_and_bad_structure(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    evil = tmp_path / "evil.bin"
    evil.write_bytes(pickle.dumps(([b"x", b"y"], [Evil()]), protocol=2))
    refused = r"refusing to load global (__builtin__|builtins)\.print"
    with pytest.raises(pickle.UnpicklingError, match=refused):
        read_bin(evil)
    short = tmp_path / "short.bin"
    one = encode_image(np.zeros((4, 4, 3), np.uint8))
    short.write_bytes(py2_bin_pickle([one] * 3, [True, False]))
    with pytest.raises(ValueError, match="3 images for 2 pairs"):
        read_bin(short)
    cut = tmp_path / "cut.bin"
    cut.write_bytes(py2_bin_pickle([b"ab", b"cd"], [True])[:-4])
    with pytest.raises(ValueError, match="not a valid insightface .bin"):
        read_bin(cut)
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(py2_bin_pickle([b"ab", b"cd"], [True]))
    with pytest.raises(ValueError, match="image 0 cannot be decoded"):
        load_bin_pairs(garbage)


def test_missing_benchmarks_are_named(tmp_path):
    write_fake_bin(tmp_path / "lfw.bin", n_pairs=2, size=8)
    lines = missing_benchmarks(tmp_path, ["lfw", "cfp_fp", "agedb_30"])
    assert lines == [f"CFP-FP (cfp_fp): {tmp_path / 'cfp_fp.bin'}",
                     f"AgeDB-30 (agedb_30): {tmp_path / 'agedb_30.bin'}"]
