"""Tests for advtransfer.images.datasets: class bookkeeping, splits, transforms and loaders."""

from __future__ import annotations

import pickle
import pickletools

import numpy as np
import pytest
import torch
from fakes import py2_pickle_dumps, write_fake_cifar10, write_fake_stl10, write_stl10_split
from hypothesis import given, settings
from hypothesis import strategies as st

from advtransfer.images.datasets import (
    CIFAR10_CLASSES,
    DIGITS_CLASS_NAMES,
    STL10_CLASSES,
    DatasetNotFoundError,
    RestrictedUnpickler,
    domain_shift,
    load_cifar10,
    load_digits_images,
    load_stl10,
    mixture_class_lists,
    resize_images,
    resolve_classes,
    restricted_pickle_load,
    select_classes,
    split_indices,
)

VEHICLES = ["airplane", "automobile", "ship", "truck"]
ANIMALS = ["bird", "cat", "deer", "dog"]


# -- offline digits ------------------------------------------------------------------------
def test_load_digits_images():
    from sklearn.datasets import load_digits

    x, y = load_digits_images()
    assert x.shape == (1797, 1, 8, 8) and x.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_allclose(x[:, 0], load_digits().images / 16.0, rtol=1e-6)
    assert set(np.unique(y)) == set(range(10)) and len(DIGITS_CLASS_NAMES) == 10


# -- class bookkeeping ---------------------------------------------------------------------
def test_mixture_lists_are_the_spec_sequence():
    assert mixture_class_lists(VEHICLES, ANIMALS) == [
        ["airplane", "automobile", "ship", "truck"],
        ["bird", "automobile", "ship", "truck"],
        ["bird", "cat", "ship", "truck"],
        ["bird", "cat", "deer", "truck"],
        ["bird", "cat", "deer", "dog"],
    ]


def test_mixture_percentages_select_exact_classes():
    lists = mixture_class_lists(VEHICLES, ANIMALS)
    for j, classes in enumerate(lists):
        animals = [c for c in classes if c in ANIMALS]
        assert animals == ANIMALS[:j]  # j / 4 = 0, 25, 50, 75, 100 %
        assert [c for c in classes if c in VEHICLES] == VEHICLES[j:]
        idx = resolve_classes(classes, CIFAR10_CLASSES)
        assert [CIFAR10_CLASSES[i] for i in idx] == classes


@pytest.mark.parametrize(
    "a,b,match",
    [([], [], "empty"), (["a"], ["b", "c"], "equal length"), (["a", "b"], ["b", "c"], "disjoint")],
)
def test_mixture_bad_groups(a, b, match):
    with pytest.raises(ValueError, match=match):
        mixture_class_lists(a, b)


def test_resolve_classes_names_indices_and_aliases():
    assert resolve_classes(["cat", 0, "Truck"], CIFAR10_CLASSES) == [3, 0, 9]
    # the same names select the same concepts in CIFAR-10 and STL-10
    names = ["airplane", "car", "ship", "truck"]
    cifar = resolve_classes(names, CIFAR10_CLASSES)
    stl = resolve_classes(names, STL10_CLASSES)
    assert [CIFAR10_CLASSES[i] for i in cifar] == ["airplane", "automobile", "ship", "truck"]
    assert [STL10_CLASSES[i] for i in stl] == ["airplane", "car", "ship", "truck"]
    assert resolve_classes(["automobile"], STL10_CLASSES) == [STL10_CLASSES.index("car")]


@pytest.mark.parametrize(
    "requested,match",
    [
        (["frog"], "unknown class 'frog'; valid names: airplane, bird, car"),
        ([10], "out of range"),
        (["cat", 3], "requested twice"),
        ([], "no classes"),
        ([1.5], "neither a name nor an index"),
    ],
)
def test_resolve_classes_errors(requested, match):
    with pytest.raises(ValueError, match=match):
        resolve_classes(requested, STL10_CLASSES)


def test_select_classes_remaps_in_given_order():
    x = np.arange(8, dtype=np.float32)[:, None]
    y = np.array([0, 1, 2, 3, 2, 1, 0, 3])
    xs, ys = select_classes(x, y, [2, 0])
    np.testing.assert_array_equal(xs[:, 0], [0, 2, 4, 6])
    np.testing.assert_array_equal(ys, [1, 0, 0, 1])
    assert ys.dtype == np.int64
    xt, yt = select_classes(torch.from_numpy(x), torch.from_numpy(y), [2, 0])
    assert isinstance(xt, torch.Tensor) and yt.tolist() == [1, 0, 0, 1]
    with pytest.raises(ValueError, match="repeats"):
        select_classes(x, y, [1, 1])


# -- splits --------------------------------------------------------------------------------
def _check_partition(parts, n):
    allidx = np.concatenate([parts["train"], parts["val"], parts["test"]])
    assert len(allidx) == n and set(allidx.tolist()) == set(range(n))


def test_split_indices_disjoint_covering_reproducible():
    labels = np.repeat(np.arange(4), [50, 30, 15, 5])
    a = split_indices(labels, (0.6, 0.2, 0.2), seed=7)
    b = split_indices(labels, (0.6, 0.2, 0.2), seed=7)
    c = split_indices(labels, (0.6, 0.2, 0.2), seed=8)
    _check_partition(a, len(labels))
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert any(not np.array_equal(a[k], c[k]) for k in a)
    # stratified: each class keeps its proportion
    for cls, count in enumerate([50, 30, 15, 5]):
        assert np.sum(labels[a["train"]] == cls) == round(0.6 * count)


def test_split_indices_from_count_and_bad_fractions():
    parts = split_indices(10, (0.5, 0.5, 0.0), seed=0)
    assert len(parts["train"]) == 5 and len(parts["val"]) == 5 and len(parts["test"]) == 0
    _check_partition(parts, 10)
    with pytest.raises(ValueError, match="sum to 1"):
        split_indices(10, (0.5, 0.2, 0.2))
    with pytest.raises(ValueError, match="three non-negative"):
        split_indices(10, (1.2, -0.2, 0.0))


@settings(max_examples=40, deadline=None)
@given(
    labels=st.lists(st.integers(0, 5), min_size=0, max_size=60),
    train=st.floats(0, 1),
    seed=st.integers(0, 2**31 - 1),
    stratify=st.booleans(),
)
def test_split_indices_property(labels, train, seed, stratify):
    val = (1 - train) / 2
    parts = split_indices(
        np.array(labels, dtype=np.int64), (train, val, 1 - train - val), seed, stratify
    )
    _check_partition(parts, len(labels))


# -- transforms ----------------------------------------------------------------------------
def test_domain_shift_closed_form_and_range():
    x = np.zeros((1, 1, 8, 8), dtype=np.float32)
    x[0, 0, 2, 3] = 1.0
    out = domain_shift(x, "digits_shift")
    assert out.shape == x.shape and out.dtype == np.float32
    expected = np.full((8, 8), 0.1, dtype=np.float32)
    # half-pixel shift spreads the pixel over the 2x2 block below-right of it
    expected[2:4, 3:5] = 0.1 + 0.75 * 0.25**0.6
    np.testing.assert_allclose(out[0, 0], expected, rtol=1e-6)
    digits, _ = load_digits_images()
    shifted = domain_shift(digits, "digits_shift")
    assert shifted.min() >= 0.1 - 1e-6 and shifted.max() <= 0.85 + 1e-6
    np.testing.assert_array_equal(shifted, domain_shift(digits, "digits_shift", seed=3))
    torch.testing.assert_close(
        domain_shift(torch.from_numpy(digits), "digits_shift"), torch.from_numpy(shifted)
    )
    assert domain_shift(x, "none") is x
    with pytest.raises(ValueError, match="unknown domain shift"):
        domain_shift(x, "rotate")


def test_resize_images():
    x = np.full((3, 3, 96, 96), 0.25, dtype=np.float32)
    x[:, 1] = 0.75
    out = resize_images(x, 32)
    assert out.shape == (3, 3, 32, 32) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, 0], 0.25, rtol=1e-5)
    np.testing.assert_allclose(out[:, 1], 0.75, rtol=1e-5)
    t = resize_images(torch.rand(2, 1, 96, 96), (32, 16), batch_size=1)
    assert isinstance(t, torch.Tensor) and t.shape == (2, 1, 32, 16)
    assert 0 <= float(t.min()) and float(t.max()) <= 1


# -- restricted unpickler ------------------------------------------------------------------
def test_restricted_unpickler_rejects_os_system(tmp_path):
    marker = tmp_path / "pwned"
    payload = b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."
    path = tmp_path / "evil"
    path.write_bytes(payload)
    with pytest.raises(pickle.UnpicklingError, match="os.system"):
        restricted_pickle_load(path)
    assert not marker.exists()

    class Evil:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    import io

    with pytest.raises(pickle.UnpicklingError):
        RestrictedUnpickler(io.BytesIO(pickle.dumps(Evil(), protocol=2))).load()
    assert not marker.exists()


def test_cifar_loader_refuses_malicious_batch(tmp_path):
    write_fake_cifar10(tmp_path, n_per_batch=2)
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(b"cbuiltins\neval\n(S'1+1'\ntR.")
    with pytest.raises(pickle.UnpicklingError, match="builtins.eval"):
        load_cifar10(tmp_path, "test")


# -- CIFAR-10 ------------------------------------------------------------------------------
def test_fake_cifar_matches_the_real_layout(tmp_path):
    write_fake_cifar10(tmp_path, n_per_batch=3)
    raw = (tmp_path / "cifar-10-batches-py" / "data_batch_1").read_bytes()
    ops = [(op.name, arg) for op, arg, _ in pickletools.genops(raw)]
    assert ops[0] == ("PROTO", 2)
    assert ("GLOBAL", "numpy.core.multiarray _reconstruct") in ops
    assert not any(name == "GLOBAL" and "codecs" in str(arg) for name, arg in ops)
    # readable by the standard library the way the official instructions read it
    batch = pickle.loads(raw, encoding="bytes")
    assert set(batch) == {b"batch_label", b"labels", b"data", b"filenames"}
    assert batch[b"data"].shape == (3, 3072) and batch[b"data"].dtype == np.uint8


def test_cifar_round_trip(tmp_path):
    truth = write_fake_cifar10(tmp_path, n_per_batch=4, n_test=6, seed=1)
    for split, n in (("train", 20), ("test", 6)):
        x, y = load_cifar10(tmp_path, split)
        assert x.shape == (n, 3, 32, 32) and x.dtype == np.float32 and y.dtype == np.int64
        np.testing.assert_array_equal(np.round(x * 255).astype(np.uint8), truth[split][0])
        np.testing.assert_array_equal(y, truth[split][1])


def test_cifar_pixel_positions(tmp_path):
    write_fake_cifar10(tmp_path, n_per_batch=1)
    data = np.zeros((2, 3072), dtype=np.uint8)
    data[1, 0 * 1024 + 0 * 32 + 5] = 200  # red plane, row 0, column 5
    data[1, 1 * 1024 + 2 * 32 + 0] = 100  # green plane, row 2, column 0
    data[1, 2 * 1024 + 31 * 32 + 30] = 50  # blue plane, row 31, column 30
    batch = {"batch_label": "testing batch 1 of 1", "labels": [3, 7], "data": data,
             "filenames": ["a.png", "b.png"]}  # fmt: skip
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(py2_pickle_dumps(batch))
    x, y = load_cifar10(tmp_path, "test")
    assert y.tolist() == [3, 7]
    assert x[1, 0, 0, 5] == pytest.approx(200 / 255)
    assert x[1, 1, 2, 0] == pytest.approx(100 / 255)
    assert x[1, 2, 31, 30] == pytest.approx(50 / 255)
    assert np.count_nonzero(x) == 3


def test_cifar_truncated_and_wrong_meta(tmp_path):
    write_fake_cifar10(tmp_path, n_per_batch=3)
    base = tmp_path / "cifar-10-batches-py"
    good = (base / "test_batch").read_bytes()
    (base / "test_batch").write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="test_batch.*truncated"):
        load_cifar10(tmp_path, "test")
    (base / "test_batch").write_bytes(good)
    meta = {"num_cases_per_batch": 3, "label_names": list(STL10_CLASSES), "num_vis": 3072}
    (base / "batches.meta").write_bytes(py2_pickle_dumps(meta))
    with pytest.raises(ValueError, match="label_names"):
        load_cifar10(tmp_path, "test")


def test_cifar_missing_message(tmp_path):
    with pytest.raises(DatasetNotFoundError) as err:
        load_cifar10(tmp_path / "data", "train")
    assert isinstance(err.value, FileNotFoundError)
    message = str(err.value)
    assert str(tmp_path / "data" / "cifar-10-batches-py" / "data_batch_5") in message
    assert "download: true" in message and "cifar-10-python.tar.gz" in message
    with pytest.raises(ValueError, match="split"):
        load_cifar10(tmp_path, "val")


# -- STL-10 --------------------------------------------------------------------------------
def test_stl_round_trip(tmp_path):
    truth = write_fake_stl10(tmp_path, n_train=12, n_test=5, n_unlabeled=1, seed=2)
    for split in ("train", "test"):
        x, y = load_stl10(tmp_path, split)
        assert x.shape == (len(truth[split][1]), 3, 96, 96) and x.dtype == np.float32
        np.testing.assert_array_equal(np.round(x * 255).astype(np.uint8), truth[split][0])
        np.testing.assert_array_equal(y, truth[split][1])
        assert y.min() >= 0 and y.max() <= 9
    small, _ = load_stl10(tmp_path, "train", image_size=32)
    np.testing.assert_allclose(small, resize_images(truth["train"][0], 32), atol=1e-6)


def test_stl_empty_split(tmp_path):
    write_fake_stl10(tmp_path, n_train=0, n_test=1, n_unlabeled=0)
    x, y = load_stl10(tmp_path, "train", image_size=32)
    assert x.shape == (0, 3, 32, 32) and y.shape == (0,)


def test_stl_column_major_layout(tmp_path):
    """Bytes are written by hand: plane 0 holds the column index, plane 1 the row index,
    plane 2 is 255 only in the first stored run of 96 bytes (= the first column)."""
    write_fake_stl10(tmp_path, n_train=1, n_test=1, n_unlabeled=1)
    k = np.arange(96 * 96)
    planes = [k // 96, k % 96, np.where(k < 96, 255, 0)]  # column-major: row = k % 96
    (tmp_path / "stl10_binary" / "test_X.bin").write_bytes(
        np.concatenate(planes).astype(np.uint8).tobytes()
    )
    (tmp_path / "stl10_binary" / "test_y.bin").write_bytes(bytes([4]))
    x, y = load_stl10(tmp_path, "test")
    pixels = np.round(x[0] * 255).astype(int)
    assert y.tolist() == [3]
    np.testing.assert_array_equal(pixels[0, 5, :], np.arange(96))  # varies along a row
    np.testing.assert_array_equal(pixels[1, :, 5], np.arange(96))  # varies down a column
    assert pixels[2, :, 0].tolist() == [255] * 96 and pixels[2, :, 1:].sum() == 0


def test_stl_truncated_and_inconsistent_files(tmp_path):
    write_fake_stl10(tmp_path, n_train=3, n_test=2, n_unlabeled=1)
    base = tmp_path / "stl10_binary"
    data = (base / "train_X.bin").read_bytes()
    (base / "train_X.bin").write_bytes(data[:-100])
    with pytest.raises(ValueError, match="train_X.bin.*truncated"):
        load_stl10(tmp_path, "train")
    (base / "train_X.bin").write_bytes(data)
    (base / "train_y.bin").write_bytes(bytes([1, 2]))
    with pytest.raises(ValueError, match="3 images but .* 2 labels"):
        load_stl10(tmp_path, "train")
    (base / "train_y.bin").write_bytes(bytes([1, 0, 2]))
    with pytest.raises(ValueError, match=r"1\.\.10"):
        load_stl10(tmp_path, "train")
    write_stl10_split(tmp_path, "train", np.zeros((3, 3, 96, 96), np.uint8), np.array([0, 1, 2]))
    (base / "class_names.txt").write_text("\n".join(CIFAR10_CLASSES))
    with pytest.raises(ValueError, match="class_names.txt"):
        load_stl10(tmp_path, "train")


def test_stl_missing_message(tmp_path):
    with pytest.raises(DatasetNotFoundError) as err:
        load_stl10(tmp_path, "test")
    message = str(err.value)
    assert str(tmp_path / "stl10_binary" / "test_X.bin") in message
    assert str(tmp_path / "stl10_binary" / "test_y.bin") in message
    assert "download: true" in message and "stl10_binary.tar.gz" in message
