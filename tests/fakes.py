"""Fake CIFAR-10 and STL-10 datasets in their real on-disk formats, for tests.

* CIFAR-10 (python version): ``<root>/cifar-10-batches-py/{data_batch_1..5, test_batch,
  batches.meta}``. The real files were written by Python 2's cPickle with protocol 2,
  so their strings are Python 2 byte strings and their arrays reference
  ``numpy.core.multiarray._reconstruct``. Python 3's pickler cannot produce that
  (at protocol 2 it encodes bytes through ``_codecs.encode``), so the pickles here are
  emitted opcode by opcode in the same layout the original files use.
* STL-10 (binary version): ``<root>/stl10_binary/{train,test}_{X,y}.bin``,
  ``unlabeled_X.bin`` and ``class_names.txt``; images uint8 3x96x96, each channel
  stored column-major; labels uint8 in 1..10.

The writers return the logical (row-major, (N, 3, H, W)) uint8 images and 0-based labels
they wrote, so tests can compare loader output with the truth.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from advtransfer.images.datasets import CIFAR10_CLASSES, STL10_CLASSES

__all__ = [
    "py2_pickle_dumps",
    "write_cifar10_batch",
    "write_fake_cifar10",
    "write_stl10_split",
    "write_fake_stl10",
]


# ---------------------------------------------------------------------------------------
# A tiny Python-2-style protocol-2 pickle emitter (dicts, lists, str, int, uint8 arrays)
# ---------------------------------------------------------------------------------------
def _p_str(s: str | bytes) -> bytes:
    raw = s.encode("latin1") if isinstance(s, str) else s
    if len(raw) < 256:
        return b"U" + bytes([len(raw)]) + raw  # SHORT_BINSTRING
    return b"T" + struct.pack("<i", len(raw)) + raw  # BINSTRING


def _p_int(v: int) -> bytes:
    if 0 <= v < 256:
        return b"K" + bytes([v])  # BININT1
    if 0 <= v < 65536:
        return b"M" + struct.pack("<H", v)  # BININT2
    return b"J" + struct.pack("<i", v)  # BININT


def _p_array(a: np.ndarray) -> bytes:
    if a.dtype != np.uint8:
        raise ValueError("only uint8 arrays are supported")
    a = np.ascontiguousarray(a)
    shape = b"(" + b"".join(_p_int(d) for d in a.shape) + b"t"
    dtype = (
        b"cnumpy\ndtype\n" + _p_str("u1") + _p_int(0) + _p_int(1) + b"\x87R"
        + b"(" + _p_int(3) + _p_str("|") + b"NNN" + b"J\xff\xff\xff\xff" * 2 + _p_int(0)
        + b"tb"
    )  # fmt: skip
    return (
        b"cnumpy.core.multiarray\n_reconstruct\n"
        + b"cnumpy\nndarray\n" + _p_int(0) + b"\x85" + _p_str("b") + b"\x87R"
        + b"(" + _p_int(1) + shape + dtype + b"\x89" + _p_str(a.tobytes()) + b"tb"
    )  # fmt: skip


def _p_obj(obj: object) -> bytes:
    if isinstance(obj, dict):
        body = b"".join(_p_obj(k) + _p_obj(v) for k, v in obj.items())
        return b"}(" + body + b"u"
    if isinstance(obj, list):
        return b"](" + b"".join(_p_obj(v) for v in obj) + b"e"
    if isinstance(obj, (str, bytes)):
        return _p_str(obj)
    if isinstance(obj, (int, np.integer)) and not isinstance(obj, bool):
        return _p_int(int(obj))
    if isinstance(obj, np.ndarray):
        return _p_array(obj)
    raise TypeError(f"cannot emit {type(obj).__name__}")


def py2_pickle_dumps(obj: object) -> bytes:
    """Serialise dicts/lists/str/int/uint8 arrays as Python 2 cPickle protocol 2 would."""
    return b"\x80\x02" + _p_obj(obj) + b"."


# ---------------------------------------------------------------------------------------
# CIFAR-10
# ---------------------------------------------------------------------------------------
def write_cifar10_batch(
    path: str | Path,
    images: np.ndarray,
    labels: Sequence[int],
    batch_label: str = "training batch 1 of 5",
) -> None:
    """Write one CIFAR-10 batch file from uint8 images (n, 3, 32, 32) and labels."""
    images = np.asarray(images, dtype=np.uint8)
    n = images.shape[0]
    batch = {
        "batch_label": batch_label,
        "labels": [int(v) for v in labels],
        "data": images.reshape(n, 3 * 32 * 32),
        "filenames": [f"fake_{batch_label.split()[0]}_{i:05d}.png" for i in range(n)],
    }
    Path(path).write_bytes(py2_pickle_dumps(batch))


def write_fake_cifar10(
    root: str | Path, n_per_batch: int = 20, seed: int = 0, n_test: int | None = None
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Write a fake ``<root>/cifar-10-batches-py`` with random images.

    Args:
        root: dataset root.
        n_per_batch: images in each of data_batch_1..5.
        seed: seed of the random images and labels.
        n_test: images in test_batch (default ``n_per_batch``).

    Returns:
        ``{"train": (x, y), "test": (x, y)}``: x uint8 (N, 3, 32, 32), y int64.
    """
    rng = np.random.default_rng(seed)
    base = Path(root) / "cifar-10-batches-py"
    base.mkdir(parents=True, exist_ok=True)
    meta = {
        "num_cases_per_batch": n_per_batch,
        "label_names": list(CIFAR10_CLASSES),
        "num_vis": 3072,
    }
    (base / "batches.meta").write_bytes(py2_pickle_dumps(meta))
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    xs, ys = [], []
    for i in range(1, 6):
        x = rng.integers(0, 256, size=(n_per_batch, 3, 32, 32), dtype=np.uint8)
        y = rng.integers(0, 10, size=n_per_batch).astype(np.int64)
        write_cifar10_batch(base / f"data_batch_{i}", x, y, f"training batch {i} of 5")
        xs.append(x)
        ys.append(y)
    out["train"] = (np.concatenate(xs), np.concatenate(ys))
    n_test = n_per_batch if n_test is None else n_test
    x = rng.integers(0, 256, size=(n_test, 3, 32, 32), dtype=np.uint8)
    y = rng.integers(0, 10, size=n_test).astype(np.int64)
    write_cifar10_batch(base / "test_batch", x, y, "testing batch 1 of 1")
    out["test"] = (x, y)
    return out


# ---------------------------------------------------------------------------------------
# STL-10
# ---------------------------------------------------------------------------------------
def _stl_bytes(images: np.ndarray) -> bytes:
    images = np.asarray(images, dtype=np.uint8)
    return np.ascontiguousarray(np.swapaxes(images, 2, 3)).tobytes()  # column-major planes


def write_stl10_split(
    root: str | Path, split: str, images: np.ndarray, labels: np.ndarray | None
) -> None:
    """Write ``<split>_X.bin`` (and ``<split>_y.bin`` unless labels is None).

    Args:
        root: dataset root; files go to ``<root>/stl10_binary``.
        split: ``"train"``, ``"test"`` or ``"unlabeled"``.
        images: uint8 (n, 3, 96, 96) in logical row-major orientation.
        labels: 0-based labels (written as 1..10), or None.
    """
    base = Path(root) / "stl10_binary"
    base.mkdir(parents=True, exist_ok=True)
    (base / f"{split}_X.bin").write_bytes(_stl_bytes(images))
    if labels is not None:
        (base / f"{split}_y.bin").write_bytes((np.asarray(labels) + 1).astype(np.uint8).tobytes())


def write_fake_stl10(
    root: str | Path, n_train: int = 10, n_test: int = 10, n_unlabeled: int = 2, seed: int = 0
) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """Write a fake ``<root>/stl10_binary`` with random images and class_names.txt.

    Returns:
        ``{"train": (x, y), "test": (x, y), "unlabeled": (x, None)}``: x uint8
        (n, 3, 96, 96) row-major, y int64 0-based.
    """
    rng = np.random.default_rng(seed)
    out: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    for split, n in (("train", n_train), ("test", n_test)):
        x = rng.integers(0, 256, size=(n, 3, 96, 96), dtype=np.uint8)
        y = (rng.permutation(n) % 10).astype(np.int64)
        write_stl10_split(root, split, x, y)
        out[split] = (x, y)
    x = rng.integers(0, 256, size=(n_unlabeled, 3, 96, 96), dtype=np.uint8)
    write_stl10_split(root, "unlabeled", x, None)
    out["unlabeled"] = (x, None)
    (Path(root) / "stl10_binary" / "class_names.txt").write_text("\n".join(STL10_CLASSES) + "\n")
    return out
