"""Image data for the distribution-shift experiment (docs/method.md §9.2) and its offline twin.

Everything returns NumPy arrays: images ``x`` float32 of shape (N, C, H, W) in [0, 1]
pixel units and labels ``y`` int64 of shape (N,).

* Offline data: :func:`load_digits_images` (scikit-learn's 8x8 digits, shipped with
  the package) and :func:`domain_shift` (a fixed transform that makes a "target domain"
  out of it, standing in for CIFAR-10 -> STL-10).
* Paper-scale data: :func:`load_cifar10` and :func:`load_stl10` read the official
  on-disk formats directly. CIFAR-10's python pickles are opened with a restricted
  unpickler that only admits the NumPy globals the files need, so a tampered file
  cannot run code.
* Class bookkeeping: :func:`resolve_classes` (names or indices, ``car`` ==
  ``automobile``), :func:`mixture_class_lists` (the swap-one-class-at-a-time sequence of
  Liang et al. §4.2), :func:`select_classes` and :func:`split_indices`.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import torch
import torch.nn.functional as F

from advtransfer.core.checks import check_batch_size
from advtransfer.io import RefusedGlobalError, unpickling_failure

__all__ = [
    "to_float_images",
    "channel_stats",
    "DIGITS_CLASS_NAMES",
    "CIFAR10_CLASSES",
    "STL10_CLASSES",
    "CLASS_ALIASES",
    "DOMAIN_SHIFTS",
    "CIFAR10_URL",
    "STL10_URL",
    "DatasetNotFoundError",
    "RestrictedUnpickler",
    "restricted_pickle_load",
    "load_digits_images",
    "resolve_classes",
    "mixture_class_lists",
    "domain_shift",
    "resize_images",
    "select_classes",
    "split_indices",
    "cifar10_files",
    "stl10_files",
    "load_cifar10",
    "load_stl10",
]

logger = logging.getLogger(__name__)

DIGITS_CLASS_NAMES: tuple[str, ...] = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
)  # fmt: skip
CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
STL10_CLASSES: tuple[str, ...] = (
    "airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck",
)  # fmt: skip

#: Names that denote the same concept in different datasets (CIFAR-10 vs STL-10).
CLASS_ALIASES: dict[str, tuple[str, ...]] = {
    "automobile": ("car",),
    "car": ("automobile",),
    "airplane": ("plane", "aeroplane"),
}

#: Transforms accepted by :func:`domain_shift`.
DOMAIN_SHIFTS: tuple[str, ...] = ("none", "digits_shift")

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
STL10_URL = "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz"

_CIFAR_DIR = "cifar-10-batches-py"
_STL_DIR = "stl10_binary"
_CIFAR_SIDE = 32
_STL_SIDE = 96

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are not on disk; the message says where they belong and how
    to get them."""


# ---------------------------------------------------------------------------------------
# Offline data
# ---------------------------------------------------------------------------------------
def load_digits_images() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's handwritten digits as images.

    The UCI optical digits (1797 images of 8x8 pixels, intensities 0..16) ship with
    scikit-learn, so this needs no download. Intensities are divided by 16.

    Returns:
        ``(x, y)``: x float32 (1797, 1, 8, 8) in [0, 1]; y int64 (1797,) in 0..9
        (class names :data:`DIGITS_CLASS_NAMES`).
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (np.asarray(bunch.images, dtype=np.float64) / 16.0).astype(np.float32)
    y = np.asarray(bunch.target, dtype=np.int64)
    return x[:, None, :, :], y


# ---------------------------------------------------------------------------------------
# Class bookkeeping
# ---------------------------------------------------------------------------------------
def resolve_classes(requested: Sequence[str | int], class_names: Sequence[str]) -> list[int]:
    """Turn class names or indices into indices of ``class_names``.

    Names are matched case-insensitively; a name may also be an alias of a class
    (:data:`CLASS_ALIASES`: ``car`` <-> ``automobile``), so one list of names selects
    the same concepts in CIFAR-10 and STL-10.

    Args:
        requested: class names or integer indices, in the order wanted.
        class_names: the dataset's class names, index i = label i.

    Returns:
        the label indices, in the order requested.

    Raises:
        ValueError: unknown name (the message lists the valid names), index out of
            range, a class requested twice, or an empty request.
    """
    names = [str(n).lower() for n in class_names]
    if len(requested) == 0:
        raise ValueError("no classes requested")
    lookup = {n: i for i, n in enumerate(names)}
    for i, n in enumerate(names):
        for alias in CLASS_ALIASES.get(n, ()):
            lookup.setdefault(alias, i)
    out: list[int] = []
    for item in requested:
        if isinstance(item, bool):
            raise ValueError(f"class {item!r} is neither a name nor an index")
        if isinstance(item, (int, np.integer)):
            idx = int(item)
            if not 0 <= idx < len(names):
                raise ValueError(
                    f"class index {idx} out of range for {len(names)} classes "
                    f"({', '.join(names)})"
                )
        elif isinstance(item, str):
            key = item.strip().lower()
            if key not in lookup:
                raise ValueError(
                    f"unknown class {item!r}; valid names: {', '.join(names)}" + _alias_note(names)
                )
            idx = lookup[key]
        else:
            raise ValueError(f"class {item!r} is neither a name nor an index")
        if idx in out:
            raise ValueError(f"class {item!r} ({names[idx]}) requested twice in {list(requested)}")
        out.append(idx)
    return out


def _alias_note(names: Sequence[str]) -> str:
    pairs = [f"{a} = {n}" for n in names for a in CLASS_ALIASES.get(n, ()) if a not in names]
    return f" (aliases: {', '.join(pairs)})" if pairs else ""


T = TypeVar("T")


def mixture_class_lists(group_a: Sequence[T], group_b: Sequence[T]) -> list[list[T]]:
    """Class lists moving from ``group_a`` to ``group_b`` one class at a time (Liang et al. §4.2).

    List j (j = 0..m) holds ``group_b[:j] + group_a[j:]``: position i of group_a is
    replaced by position i of group_b, so list j contains ``100 j / m`` percent of
    group_b. With group_a = (airplane, automobile, ship, truck) and group_b =
    (bird, cat, deer, dog) this gives the paper's 0/25/50/75/100 % animal datasets.

    Args:
        group_a: the starting classes (names or indices), length m >= 1.
        group_b: the replacement classes, same length, disjoint from group_a.

    Returns:
        m + 1 lists of m classes each.

    Raises:
        ValueError: groups empty, of different lengths, with duplicates or overlapping.
    """
    a, b = list(group_a), list(group_b)
    if not a:
        raise ValueError("group_a is empty")
    if len(a) != len(b):
        raise ValueError(f"groups must have equal length, got {len(a)} and {len(b)}")
    if len(set(map(str, a))) != len(a) or len(set(map(str, b))) != len(b):
        raise ValueError(f"groups must not repeat a class: {a} / {b}")
    overlap = set(map(str, a)) & set(map(str, b))
    if overlap:
        raise ValueError(f"groups must be disjoint, both contain {sorted(overlap)}")
    return [b[:j] + a[j:] for j in range(len(a) + 1)]


def select_classes(
    x: ArrayT, y: ArrayT | np.ndarray, class_indices: Sequence[int]
) -> tuple[ArrayT, ArrayT | np.ndarray]:
    """Keep the samples of the given classes and relabel them 0..k-1 in the given order.

    Args:
        x: samples, first axis N (NumPy array or torch tensor).
        y: integer labels, shape (N,).
        class_indices: original labels to keep; ``class_indices[j]`` becomes label j.

    Returns:
        ``(x_sel, y_new)`` in the original sample order; same array types as the inputs,
        y_new int64.

    Raises:
        ValueError: empty or repeated ``class_indices``, or ``len(x) != len(y)``.
    """
    classes = [int(c) for c in class_indices]
    if not classes:
        raise ValueError("class_indices is empty")
    if len(set(classes)) != len(classes):
        raise ValueError(f"class_indices repeats a class: {classes}")
    y_np = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    if y_np.ndim != 1 or len(x) != len(y_np):
        raise ValueError(f"need y of shape (N,) with N = len(x) = {len(x)}, got {y_np.shape}")
    remap = {c: j for j, c in enumerate(classes)}
    keep = np.flatnonzero(np.isin(y_np, classes))
    y_new = np.fromiter((remap[int(v)] for v in y_np[keep]), dtype=np.int64, count=len(keep))
    if isinstance(x, torch.Tensor):
        x_sel = x[torch.from_numpy(keep).to(x.device)]
    else:
        x_sel = x[keep]
    if isinstance(y, torch.Tensor):
        return x_sel, torch.from_numpy(y_new).to(y.device)
    return x_sel, y_new


def split_indices(
    n_or_labels: int | Sequence[int] | np.ndarray,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    stratify: bool = True,
) -> dict[str, np.ndarray]:
    """Random train/val/test split of ``range(N)``, deterministic for a seed.

    Counts are ``fraction * N`` rounded by largest remainder, so they sum to N. With
    labels and ``stratify=True`` the rounding is done per class, keeping class
    proportions in every part.

    Args:
        n_or_labels: the number of samples N, or the (N,) labels to stratify by.
        fractions: (train, val, test), each >= 0, summing to 1.
        seed: seed of the permutation.
        stratify: split each class separately (ignored when only N is given).

    Returns:
        ``{"train", "val", "test"}`` -> sorted int64 index arrays, pairwise disjoint,
        together covering 0..N-1.

    Raises:
        ValueError: bad fractions or N < 0.
    """
    fr = np.asarray([float(f) for f in fractions], dtype=np.float64)
    if fr.shape != (3,) or not np.all(np.isfinite(fr)) or np.any(fr < 0):
        raise ValueError(f"fractions must be three non-negative numbers, got {list(fractions)}")
    if abs(fr.sum() - 1.0) > 1e-6:
        raise ValueError(f"fractions must sum to 1, got {list(fractions)} (sum {fr.sum()})")
    if isinstance(n_or_labels, (int, np.integer)) and not isinstance(n_or_labels, bool):
        n = int(n_or_labels)
        if n < 0:
            raise ValueError(f"number of samples must be >= 0, got {n}")
        groups = [np.arange(n)]
    else:
        labels = np.asarray(n_or_labels)
        if labels.ndim != 1:
            raise ValueError(f"labels must be one-dimensional, got shape {labels.shape}")
        if stratify:
            groups = [np.flatnonzero(labels == c) for c in np.unique(labels)]
        else:
            groups = [np.arange(len(labels))]
    groups = groups or [np.arange(0)]
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[], [], []]
    for group in groups:
        perm = group[rng.permutation(len(group))]
        counts = _largest_remainder(fr, len(group))
        bounds = np.concatenate([[0], np.cumsum(counts)])
        for k in range(3):
            parts[k].append(perm[bounds[k] : bounds[k + 1]])
    return {
        name: np.sort(np.concatenate(chunks)).astype(np.int64)
        for name, chunks in zip(("train", "val", "test"), parts, strict=True)
    }


def _largest_remainder(fractions: np.ndarray, n: int) -> np.ndarray:
    raw = fractions * n
    counts = np.floor(raw).astype(np.int64)
    short = n - int(counts.sum())
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[:short]] += 1
    return counts


# ---------------------------------------------------------------------------------------
# Image transforms
# ---------------------------------------------------------------------------------------
#: Parameters of the "digits_shift" target domain.
_DIGITS_SHIFT_GAMMA = 0.6
_DIGITS_SHIFT_LOW, _DIGITS_SHIFT_HIGH = 0.1, 0.85


def domain_shift(x: ArrayT, kind: str, seed: int | None = None) -> ArrayT:
    """Deterministic transform that turns source-domain images into a target domain.

    ``kind``:

    * ``"none"``: identity (returns ``x`` itself).
    * ``"digits_shift"``: a fixed change of acquisition for 8x8 digits, playing the
      role of CIFAR-10 -> STL-10 (same classes, different camera and framing):

      1. translate the content by half a pixel right and down with bilinear
         interpolation and zero fill, i.e. each output pixel is the mean of the 2x2
         input block ending at it (moves the framing and slightly blurs);
      2. gamma ``x ** 0.6`` (thicker, brighter strokes);
      3. reduced contrast ``0.1 + 0.75 x``, so values lie in [0.1, 0.85].

      A digits_cnn at 98 % source test accuracy keeps about 65 % on the shifted test
      images, a drop comparable to applying a CIFAR-10 model to STL-10 (a whole-pixel
      shift alone already drops it to about 30 %, too far from the paper's setting).

    Args:
        x: images (N, C, H, W) in [0, 1], NumPy array or torch tensor.
        kind: one of :data:`DOMAIN_SHIFTS`.
        seed: reserved for stochastic shifts; every current kind is deterministic and
            ignores it.

    Returns:
        transformed images, same shape, type and dtype as ``x``, values in [0, 1].

    Raises:
        ValueError: unknown kind or x not 4-dimensional.
    """
    del seed  # all current kinds are deterministic
    if kind not in DOMAIN_SHIFTS:
        raise ValueError(f"unknown domain shift {kind!r}; choose one of {', '.join(DOMAIN_SHIFTS)}")
    if kind == "none":
        return x
    t = _as_float_tensor(x)
    if t.dim() != 4:
        raise ValueError(f"domain_shift expects images (N, C, H, W), got shape {tuple(t.shape)}")
    shifted = F.avg_pool2d(F.pad(t, (1, 0, 1, 0)), kernel_size=2, stride=1)
    out = shifted.clamp(0.0, 1.0) ** _DIGITS_SHIFT_GAMMA
    out = _DIGITS_SHIFT_LOW + (_DIGITS_SHIFT_HIGH - _DIGITS_SHIFT_LOW) * out
    return _like(out.clamp(0.0, 1.0), x)


def resize_images(x: ArrayT, size: int | tuple[int, int], batch_size: int = 1024) -> ArrayT:
    """Bilinear, antialiased resize (e.g. STL-10 96x96 -> 32x32), processed in batches.

    Args:
        x: images (N, C, H, W) in [0, 1], NumPy array or torch tensor (uint8 is
            scaled by 1/255 first).
        size: output side length, or (height, width).
        batch_size: images per interpolation call (bounds peak memory).

    Returns:
        float32 images (N, C, h, w) clamped to [0, 1], same array type as ``x``.

    Raises:
        ValueError: x not 4-dimensional or non-positive size.
    """
    hw = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    if len(hw) != 2 or any(int(s) < 1 for s in hw):
        raise ValueError(f"size must be a positive int or (height, width), got {size!r}")
    hw = (int(hw[0]), int(hw[1]))
    if x.ndim != 4:
        raise ValueError(f"resize_images expects images (N, C, H, W), got shape {tuple(x.shape)}")
    check_batch_size(batch_size)
    chunks = []
    for start in range(0, len(x), batch_size):
        t = _as_float_tensor(x[start : start + batch_size])
        if tuple(t.shape[-2:]) != hw:
            t = F.interpolate(t, size=hw, mode="bilinear", align_corners=False, antialias=True)
        chunks.append(t.clamp(0.0, 1.0))
    if chunks:
        out = torch.cat(chunks)
    else:
        out = torch.zeros((0, x.shape[1], *hw), dtype=torch.float32)
    if isinstance(x, torch.Tensor):
        return out
    return out.numpy()


def _as_float_tensor(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(x))
    if t.dtype == torch.uint8:
        return t.to(torch.float32) / 255.0
    return t.to(torch.float32) if not t.is_floating_point() else t


def _like(t: torch.Tensor, ref: np.ndarray | torch.Tensor) -> Any:
    if isinstance(ref, torch.Tensor):
        return t.to(ref.dtype)
    return t.numpy().astype(ref.dtype, copy=False)


# ---------------------------------------------------------------------------------------
# Restricted unpickling (CIFAR-10 python version)
# ---------------------------------------------------------------------------------------
def _numpy_reconstruct() -> Any:
    try:
        from numpy._core.multiarray import _reconstruct  # NumPy >= 2
    except ImportError:  # pragma: no cover - NumPy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct(),
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct(),
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the NumPy globals that array pickles need.

    Allowed: ``numpy.core.multiarray._reconstruct`` (and its NumPy 2 name
    ``numpy._core.multiarray._reconstruct``), ``numpy.ndarray`` and ``numpy.dtype``.
    Any other global (``os.system``, ``builtins.eval``, ...) raises
    :class:`pickle.UnpicklingError`, so loading a tampered file cannot execute code.
    """

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise RefusedGlobalError(
                f"refusing to load global {module}.{name}: only NumPy array "
                "reconstruction is allowed in dataset pickles"
            ) from None


def restricted_pickle_load(
    path: str | os.PathLike[str], what: str = "pickle", fix: str | None = None
) -> Any:
    """Load a (Python 2 or 3) pickle of NumPy arrays, lists and strings safely.

    Python 2 strings are decoded as latin-1 (the encoding NumPy needs for Python 2
    array pickles), so dict keys come back as ``str``.

    Args:
        path: the pickle file.
        what: what the file should be, for messages (e.g. ``"CIFAR-10 batch"``).
        fix: how to replace a bad file, for messages.

    Returns:
        the unpickled object.

    Raises:
        pickle.UnpicklingError: the file references a forbidden global (the message
            names the file).
        advtransfer.io.CorruptFileError: (a ValueError) the file is truncated or corrupt;
            the message names it, says which, and gives ``fix``.
    """
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        return RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError,
            KeyError, AttributeError) as err:
        raise unpickling_failure(path, err, what, fix) from err


# ---------------------------------------------------------------------------------------
# CIFAR-10
# ---------------------------------------------------------------------------------------
def cifar10_files(root: str | os.PathLike[str], split: str) -> list[Path]:
    """Paths the CIFAR-10 python version must provide for ``split`` (batches.meta first).

    Args:
        root: directory that contains ``cifar-10-batches-py``.
        split: ``"train"`` (data_batch_1..5) or ``"test"`` (test_batch).

    Returns:
        list of expected file paths.
    """
    _check_split(split)
    base = Path(root) / _CIFAR_DIR
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    return [base / "batches.meta"] + [base / n for n in names]


def load_cifar10(
    root: str | os.PathLike[str],
    split: Literal["train", "test"],
    download: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Read CIFAR-10 (python version) from ``<root>/cifar-10-batches-py``.

    Each batch is a pickled dict with ``data`` (uint8, (n, 3072): the red, green and
    blue 32x32 planes, each row-major) and ``labels`` (n ints in 0..9). Files are read
    with :class:`RestrictedUnpickler`.

    Args:
        root: dataset root directory.
        split: ``"train"`` (50 000 images in the real data) or ``"test"`` (10 000).
        download: if files are missing, fetch them once with
            ``torchvision.datasets.CIFAR10(root, download=True)``.

    Returns:
        ``(x, y)``: x float32 (N, 3, 32, 32) in [0, 1]; y int64 (N,), class names
        :data:`CIFAR10_CLASSES`.

    Raises:
        DatasetNotFoundError: files missing and ``download`` is False.
        ValueError: a file is corrupt or truncated, or has unexpected contents.
    """
    files = cifar10_files(root, split)
    if any(not f.is_file() for f in files):
        if download:
            _download_torchvision("CIFAR10", root, files)
        else:
            raise DatasetNotFoundError(_missing_message("CIFAR-10", root, files, CIFAR10_URL))
    fix = (f"delete it and download CIFAR-10 again from {CIFAR10_URL} (python version) "
           f"into {root}")
    meta = _as_str_keys(restricted_pickle_load(files[0], "CIFAR-10 batch pickle", fix),
                        files[0])
    label_names = [_to_str(v) for v in meta.get("label_names", [])]
    if tuple(label_names) != CIFAR10_CLASSES:
        raise ValueError(
            f"{files[0]}: label_names {label_names} differ from the CIFAR-10 classes "
            f"{list(CIFAR10_CLASSES)}"
        )
    xs, ys = [], []
    for path in files[1:]:
        batch = _as_str_keys(restricted_pickle_load(path, "CIFAR-10 batch pickle", fix), path)
        if "data" not in batch or "labels" not in batch:
            raise ValueError(f"{path}: expected keys 'data' and 'labels', got {sorted(batch)}")
        data = batch["data"]
        labels = np.asarray(batch["labels"], dtype=np.int64)
        side = _CIFAR_SIDE
        if (
            not isinstance(data, np.ndarray)
            or data.dtype != np.uint8
            or data.ndim != 2
            or data.shape[1] != 3 * side * side
        ):
            raise ValueError(
                f"{path}: 'data' must be a uint8 array of shape (n, {3 * side * side}), got "
                f"{getattr(data, 'dtype', type(data).__name__)} {getattr(data, 'shape', '')}"
            )
        if labels.shape != (data.shape[0],):
            raise ValueError(
                f"{path}: {data.shape[0]} images but {labels.size} labels (truncated file?)"
            )
        if labels.size and (labels.min() < 0 or labels.max() > 9):
            raise ValueError(f"{path}: labels outside 0..9")
        xs.append(data.reshape(-1, 3, side, side))
        ys.append(labels)
    x = np.concatenate(xs).astype(np.float32)
    x /= np.float32(255.0)
    y = np.concatenate(ys)
    logger.info("loaded CIFAR-10 %s: %d images from %s", split, len(y), files[0].parent)
    return x, y


# ---------------------------------------------------------------------------------------
# STL-10
# ---------------------------------------------------------------------------------------
def stl10_files(root: str | os.PathLike[str], split: str) -> list[Path]:
    """Paths ``[X, y]`` the STL-10 binary version must provide for ``split``.

    Args:
        root: directory that contains ``stl10_binary``.
        split: ``"train"`` or ``"test"``.

    Returns:
        ``[<root>/stl10_binary/<split>_X.bin, <root>/stl10_binary/<split>_y.bin]``.
    """
    _check_split(split)
    base = Path(root) / _STL_DIR
    return [base / f"{split}_X.bin", base / f"{split}_y.bin"]


def load_stl10(
    root: str | os.PathLike[str],
    split: Literal["train", "test"],
    download: bool = False,
    *,
    image_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Read the labelled STL-10 images from ``<root>/stl10_binary``.

    ``<split>_X.bin`` holds uint8 images of 3x96x96 stored column-major (each channel
    plane is written column by column), read as (N, 3, 96, 96) and transposed on the
    last two axes. ``<split>_y.bin`` holds one uint8 label in 1..10 per image, shifted
    to 0..9. If ``class_names.txt`` is present it must list :data:`STL10_CLASSES`.

    Args:
        root: dataset root directory.
        split: ``"train"`` (5 000 images in the real data) or ``"test"`` (8 000).
        download: if files are missing, fetch them once with
            ``torchvision.datasets.STL10(root, download=True)``.
        image_size: if given, resize to ``image_size`` x ``image_size`` with
            :func:`resize_images` while reading (bounds memory; the paper uses 32).

    Returns:
        ``(x, y)``: x float32 (N, 3, H, W) in [0, 1] (H = W = 96 unless resized);
        y int64 (N,), class names :data:`STL10_CLASSES`.

    Raises:
        DatasetNotFoundError: files missing and ``download`` is False.
        ValueError: file sizes inconsistent (truncated), labels out of range, or
            class_names.txt disagrees.
    """
    files = stl10_files(root, split)
    if any(not f.is_file() for f in files):
        if download:
            _download_torchvision("STL10", root, files)
        else:
            raise DatasetNotFoundError(_missing_message("STL-10", root, files, STL10_URL))
    x_path, y_path = files
    names_path = x_path.parent / "class_names.txt"
    if names_path.is_file():
        names = tuple(names_path.read_text(encoding="utf-8").split())
        if names != STL10_CLASSES:
            raise ValueError(
                f"{names_path}: classes {list(names)} differ from {list(STL10_CLASSES)}"
            )
    labels = np.fromfile(y_path, dtype=np.uint8)
    per_image = 3 * _STL_SIDE * _STL_SIDE
    x_bytes = x_path.stat().st_size
    if x_bytes % per_image:
        raise ValueError(
            f"{x_path}: size {x_bytes} bytes is not a multiple of {per_image} "
            "(3x96x96 uint8 images); the file is truncated or corrupt"
        )
    n = x_bytes // per_image
    if labels.size != n:
        raise ValueError(
            f"{x_path} holds {n} images but {y_path} holds {labels.size} labels "
            "(truncated or mismatched files)"
        )
    if n and (labels.min() < 1 or labels.max() > 10):
        raise ValueError(
            f"{y_path}: labels must lie in 1..10, found {labels.min()}..{labels.max()}"
        )
    side = _STL_SIDE if image_size is None else int(image_size)
    if side < 1:
        raise ValueError(f"image_size must be a positive integer, got {image_size!r}")
    x = np.empty((n, 3, side, side), dtype=np.float32)
    if n == 0:
        return x, labels.astype(np.int64)
    raw = np.memmap(x_path, dtype=np.uint8, mode="r", shape=(n, 3, _STL_SIDE, _STL_SIDE))
    chunk = 512
    for start in range(0, n, chunk):
        block = np.swapaxes(np.asarray(raw[start : start + chunk]), 2, 3)
        block_f = block.astype(np.float32) / np.float32(255.0)
        if image_size is not None:
            block_f = resize_images(block_f, side)
        x[start : start + chunk] = block_f
    del raw
    y = labels.astype(np.int64) - 1
    logger.info("loaded STL-10 %s: %d images from %s", split, n, x_path.parent)
    return x, y


# ---------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------
def _check_split(split: str) -> None:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")


def _missing_message(
    name: str, root: str | os.PathLike[str], files: Iterable[Path], url: str
) -> str:
    missing = [str(f) for f in files if not f.is_file()]
    return (
        f"{name} not found under {Path(root)}; missing files:\n  "
        + "\n  ".join(missing)
        + f"\nTo obtain it, either set `download: true` in the config (downloads once via "
        f"torchvision into {Path(root)}), or download {url} and extract it under {Path(root)}."
    )


def _download_torchvision(kind: str, root: str | os.PathLike[str], files: list[Path]) -> None:
    import torchvision.datasets as tvd

    logger.info("downloading %s into %s via torchvision", kind, root)
    Path(root).mkdir(parents=True, exist_ok=True)
    try:
        if kind == "CIFAR10":
            tvd.CIFAR10(str(root), train=True, download=True)
        else:
            tvd.STL10(str(root), split="train", download=True)
    except Exception as err:  # network errors come in many types
        url = CIFAR10_URL if kind == "CIFAR10" else STL10_URL
        raise DatasetNotFoundError(
            f"downloading {kind} into {root} failed ({err}). Download {url} by hand and "
            f"extract it under {root}; the loader expects: {', '.join(map(str, files))}"
        ) from err
    still = [str(f) for f in files if not f.is_file()]
    if still:
        raise DatasetNotFoundError(f"after downloading {kind}, files are still missing: {still}")


def _to_str(value: Any) -> str:
    return value.decode("latin1") if isinstance(value, bytes) else str(value)


def _as_str_keys(obj: Any, path: Path) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a pickled dict, got {type(obj).__name__}")
    return {_to_str(k): v for k, v in obj.items()}


def to_float_images(x: torch.Tensor) -> torch.Tensor:
    """uint8 0..255 or float images -> float32 in [0, 1]."""
    if x.dtype == torch.uint8:
        return x.float() / 255.0
    return x.float()


def channel_stats(x: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of images (N, C, H, W) in [0, 1].

    uint8 images count as x / 255. Sums run in float64 over chunks of 4096 images, so a
    paper-scale uint8 set is never copied whole to float. The standard deviation is the
    unbiased one (n - 1), floored at 1e-3.
    """
    n_pixels = x.shape[0] * x.shape[2] * x.shape[3]
    total = torch.zeros(x.shape[1], dtype=torch.float64)
    squares = torch.zeros(x.shape[1], dtype=torch.float64)
    for start in range(0, x.shape[0], 4096):
        chunk = to_float_images(x[start : start + 4096]).double()
        total += chunk.sum(dim=(0, 2, 3))
        squares += chunk.square().sum(dim=(0, 2, 3))
    mean = total / n_pixels
    var = (squares - n_pixels * mean.square()).clamp_min(0) / max(n_pixels - 1, 1)
    return mean.tolist(), var.sqrt().clamp_min(1e-3).tolist()
