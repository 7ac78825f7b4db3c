"""Face verification with a parameter-free head: cosine similarity and a 10-fold threshold.

Reference: Liang et al., §4.3; docs/method.md §9.3 -- knowledge transferability of an attribute
classifier is measured by stripping its attribute head and using the backbone embedding,
unchanged, as a recognition feature: two images show the same identity when the cosine
similarity of their embeddings exceeds a threshold. The threshold is chosen by the
standard face-verification protocol (LFW, Huang et al. 2007; insightface's
``verification.py``): the pairs are cut into 10 contiguous folds; for each fold, the
threshold that maximises accuracy on the other 9 folds is applied to it, and the
reported accuracy is the mean over folds.

Benchmarks at paper scale come as insightface ``.bin`` files (LFW, CFP-FF, CFP-FP,
AgeDB-30, CALFW, CPLFW, VGG2-FP): a pickle of ``(bins, issame)``, ``bins`` a list of
2P encoded JPEG/PNG images (pair i = images 2i and 2i+1) and ``issame`` P booleans.
:func:`read_bin` opens them with a restricted unpickler that builds only lists, tuples,
bytes and booleans, so a tampered file cannot run code.

The math (:func:`pair_scores`, :func:`verification_accuracy`) is pure; the file readers
live at the end of the module.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
from collections.abc import Sequence
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from advtransfer.io import RefusedGlobalError, unpickling_failure

__all__ = [
    "BENCHMARK_TITLES",
    "pair_scores",
    "verification_accuracy",
    "embed",
    "BinUnpickler",
    "read_bin",
    "decode_images",
    "load_bin_pairs",
    "bin_path",
    "missing_benchmarks",
]

logger = logging.getLogger(__name__)

#: File stem -> name used in the paper's Table 1 (insightface file names).
BENCHMARK_TITLES: dict[str, str] = {
    "lfw": "LFW",
    "cfp_ff": "CFP-FF",
    "cfp_fp": "CFP-FP",
    "agedb_30": "AgeDB-30",
    "calfw": "CALFW",
    "cplfw": "CPLFW",
    "vgg2_fp": "VGG2-FP",
    "digits": "digits",
    "digits_shift": "digits-shift",
}


# ---------------------------------------------------------------------------------------
# Math
# ---------------------------------------------------------------------------------------
def pair_scores(embeddings: Tensor | np.ndarray) -> np.ndarray:
    """Cosine similarity of each pair of consecutive embeddings (2i, 2i+1).

    Formula::

        score_i = <e_2i, e_2i+1> / (||e_2i|| ||e_2i+1||)   (0 where an embedding is 0)

    Shape:
        embeddings: (2P, k); output: (P,).

    Raises:
        ValueError: an odd number of embeddings or a non-2-D array.
    """
    e = torch.as_tensor(np.asarray(embeddings) if not isinstance(embeddings, Tensor)
                        else embeddings).double()
    if e.dim() != 2 or e.shape[0] % 2:
        raise ValueError(f"embeddings must have shape (2P, k), got {tuple(e.shape)}")
    e = F.normalize(e, dim=1)
    return (e[0::2] * e[1::2]).sum(dim=1).cpu().numpy()


def _best_threshold(scores: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """Threshold t maximising the accuracy of ``score > t`` on (scores, same).

    Candidates are the midpoints between consecutive distinct scores plus one below the
    minimum and one above the maximum, so every distinct split of the sorted scores is
    tried exactly. Among tied candidates the middle one (in sorted order) wins, which puts
    the threshold in the middle of a separating gap.

    Returns:
        ``(threshold, accuracy)`` on the given pairs.
    """
    values = np.unique(scores)
    cuts = np.concatenate([[values[0] - 1.0], (values[:-1] + values[1:]) / 2, [values[-1] + 1.0]])
    # #pairs with score <= cut that are "different" + #pairs with score > cut that are "same"
    order = np.argsort(scores, kind="stable")
    s_sorted, same_sorted = scores[order], same[order]
    below = np.searchsorted(s_sorted, cuts, side="right")
    diff_cum = np.concatenate([[0], np.cumsum(~same_sorted)])
    same_cum = np.concatenate([[0], np.cumsum(same_sorted)])
    correct = diff_cum[below] + (same_cum[-1] - same_cum[below])
    best = np.flatnonzero(correct == correct.max())
    pick = best[(len(best) - 1) // 2]
    return float(cuts[pick]), float(correct[pick] / len(scores))


def verification_accuracy(
    scores: Sequence[float] | np.ndarray,
    issame: Sequence[bool] | np.ndarray,
    *,
    folds: int = 10,
) -> dict[str, Any]:
    """Verification accuracy with the threshold chosen by k-fold cross-validation.

    Paper: Liang et al. §4.3 (face verification on LFW, CFP, AgeDB, ...), following the
    LFW protocol as implemented by insightface: the P pairs are cut, in file order, into
    ``folds`` contiguous folds (``sklearn.model_selection.KFold(shuffle=False)``); for
    each fold the accuracy-maximising threshold on the remaining folds
    (:func:`_best_threshold`) classifies that fold's pairs as "same" when
    ``score > threshold``.

    Args:
        scores: similarity per pair (higher = more alike), e.g. :func:`pair_scores`.
        issame: ground truth per pair.
        folds: number of folds, 2 <= folds <= P.

    Shape:
        scores, issame: (P,).

    Returns:
        ``{"accuracy": mean over folds, "accuracy_std": std over folds (ddof 0, as
        insightface), "fold_accuracy": list, "thresholds": list, "pairs": P,
        "positive_fraction": fraction of "same" pairs}``.

    Raises:
        ValueError: mismatched lengths, non-finite scores, fewer pairs than folds.
    """
    s = np.asarray(scores, dtype=np.float64)
    same = np.asarray(issame).astype(bool)
    if s.ndim != 1 or same.shape != s.shape:
        raise ValueError(f"scores and issame must be 1-D of equal length, got {s.shape} and "
                         f"{same.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores must be finite")
    if isinstance(folds, bool) or not isinstance(folds, Integral) or folds < 2:
        raise ValueError(f"folds must be an integer >= 2, got {folds!r}")
    if s.size < folds:
        raise ValueError(f"need at least {folds} pairs for {folds}-fold verification, got {s.size}")
    accuracies, thresholds = [], []
    for test in np.array_split(np.arange(s.size), folds):
        train = np.setdiff1d(np.arange(s.size), test, assume_unique=True)
        threshold, _ = _best_threshold(s[train], same[train])
        accuracies.append(float(np.mean((s[test] > threshold) == same[test])))
        thresholds.append(threshold)
    return {
        "accuracy": float(np.mean(accuracies)),
        "accuracy_std": float(np.std(accuracies)),
        "fold_accuracy": accuracies,
        "thresholds": thresholds,
        "pairs": int(s.size),
        "positive_fraction": float(same.mean()),
    }


def embed(
    model: nn.Module,
    x: Tensor,
    *,
    flip: bool = False,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
) -> Tensor:
    """Backbone embeddings ``model.features(x)`` (head stripped), optionally flip-augmented.

    With ``flip`` the embedding is ``features(x) + features(flip_W(x))`` (horizontal flip),
    as in insightface's verification protocol; cosine similarity is scale-free, so the sum
    needs no normalisation here.

    Args:
        model: module with ``features(x) -> (N, k)``; run in eval mode (restored after).
        x: images in [0, 1] (float) or uint8 0..255.
        flip: add the embedding of the horizontally flipped image.
        batch_size: images per forward pass.
        device: where the model lives.

    Shape:
        x: (N, C, H, W); output: (N, k) float32 on the CPU.
    """
    from advtransfer.core.probes import extract_features

    xf = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    out = extract_features(model, xf, batch_size=batch_size, device=device)
    if flip:
        out = out + extract_features(model, xf.flip(-1), batch_size=batch_size, device=device)
    return out


# ---------------------------------------------------------------------------------------
# insightface .bin files
# ---------------------------------------------------------------------------------------
def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """What Python 3 pickles bytes as at protocol <= 2: ``_codecs.encode(str, 'latin1')``."""
    if encoding.lower().replace("-", "").replace("_", "") not in ("latin1", "iso88591"):
        raise RefusedGlobalError(f"refusing _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


def _numpy_bool_dtype(name: Any, *args: Any) -> np.dtype:
    dtype = np.dtype(name)
    if dtype != np.bool_:
        raise RefusedGlobalError(f"refusing numpy dtype {name!r}: only bool is allowed")
    return dtype


def _numpy_bool_scalar(dtype: Any, data: Any = None) -> np.bool_:
    if np.dtype(dtype) != np.bool_ or not isinstance(data, (bytes, bytearray)) or len(data) != 1:
        raise RefusedGlobalError("refusing a numpy scalar that is not a bool")
    return np.bool_(data[0] != 0)


_BIN_GLOBALS: dict[tuple[str, str], Any] = {
    ("builtins", "list"): list,
    ("builtins", "tuple"): tuple,
    ("builtins", "bytes"): bytes,
    ("builtins", "bool"): bool,
    ("__builtin__", "list"): list,
    ("__builtin__", "tuple"): tuple,
    ("__builtin__", "bool"): bool,
    ("_codecs", "encode"): _latin1_encode,
    ("numpy", "bool_"): np.bool_,
    ("numpy", "dtype"): _numpy_bool_dtype,
    ("numpy.core.multiarray", "scalar"): _numpy_bool_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_bool_scalar,
}


class BinUnpickler(pickle.Unpickler):
    """Unpickler for insightface ``.bin`` files: lists, tuples, bytes and booleans only.

    Python 2 strings come back as ``bytes`` (``encoding="bytes"``). The only globals it
    resolves are the builtins ``list``, ``tuple``, ``bytes`` and ``bool``, ``_codecs.encode``
    restricted to latin-1 (how Python 3 writes bytes at pickle protocol 2) and NumPy's
    boolean scalar (some files store ``issame`` as ``numpy.bool_``). Anything else raises
    :class:`pickle.UnpicklingError`.
    """

    def __init__(self, file: Any) -> None:
        super().__init__(file, encoding="bytes")

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _BIN_GLOBALS[(module, name)]
        except KeyError:
            raise RefusedGlobalError(
                f"refusing to load global {module}.{name}: an insightface .bin holds only "
                "lists of encoded images (bytes) and booleans"
            ) from None


_BIN_FIX = ("delete it and copy the benchmark again from insightface's face data sets "
            "(e.g. faces_emore/<name>.bin)")


def read_bin(path: str | os.PathLike[str]) -> tuple[list[bytes], np.ndarray]:
    """Read an insightface verification ``.bin`` file safely.

    Args:
        path: e.g. ``faces_emore/lfw.bin``.

    Returns:
        ``(bins, issame)``: 2P encoded images (bytes) and a bool array of P flags.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        pickle.UnpicklingError: the file references a forbidden global.
        ValueError: the file is corrupt, or its structure is not ``(bins, issame)`` with
            ``len(bins) == 2 len(issame)`` (the message names the file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"verification benchmark {path} does not exist")
    try:
        with open(path, "rb") as fh:
            obj = BinUnpickler(fh).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError,
            AttributeError) as err:
        raise unpickling_failure(path, err, "insightface .bin pickle", _BIN_FIX) from err
    if not isinstance(obj, (tuple, list)) or len(obj) != 2:
        raise ValueError(
            f"{path}: expected a pickled pair (bins, issame), got {type(obj).__name__}"
        )
    bins, issame = obj
    if not isinstance(bins, (list, tuple)) or not all(
        isinstance(b, (bytes, bytearray)) for b in bins
    ):
        raise ValueError(f"{path}: bins must be a list of encoded images (bytes)")
    if not isinstance(issame, (list, tuple)) or not all(
        isinstance(v, (bool, np.bool_)) for v in issame
    ):
        raise ValueError(f"{path}: issame must be a list of booleans")
    if len(bins) != 2 * len(issame):
        raise ValueError(
            f"{path}: {len(bins)} images for {len(issame)} pairs; expected exactly two "
            "images per pair (truncated file?)"
        )
    return [bytes(b) for b in bins], np.asarray(issame, dtype=bool)


def decode_images(
    bins: Sequence[bytes], size: int | None = None, *, source: str = ""
) -> np.ndarray:
    """Decode JPEG/PNG bytes to RGB uint8 images, optionally resized to ``size`` x ``size``.

    Shape:
        output: (N, 3, H, W) uint8.

    Raises:
        ValueError: an image cannot be decoded, or images differ in size and ``size`` is
            None (names ``source`` and the image index).
    """
    from PIL import Image

    images = []
    for i, raw in enumerate(bins):
        try:
            with Image.open(io.BytesIO(raw)) as img:
                img = img.convert("RGB")
                if size is not None and img.size != (size, size):
                    img = img.resize((size, size), Image.BILINEAR)
                images.append(np.asarray(img, dtype=np.uint8))
        except OSError as err:
            raise ValueError(f"{source}: image {i} cannot be decoded: {err}") from err
    shapes = {a.shape for a in images}
    if len(shapes) > 1:
        raise ValueError(f"{source}: images have different sizes {sorted(shapes)}; set a size")
    if not images:
        return np.zeros((0, 3, size or 0, size or 0), dtype=np.uint8)
    return np.ascontiguousarray(np.stack(images).transpose(0, 3, 1, 2))


def load_bin_pairs(
    path: str | os.PathLike[str], size: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Images and flags of one ``.bin`` benchmark: ((2P, 3, H, W) uint8, (P,) bool)."""
    bins, issame = read_bin(path)
    images = decode_images(bins, size, source=str(path))
    logger.info("read %s: %d pairs (%d same), images %s", path, len(issame), int(issame.sum()),
                tuple(images.shape[1:]))
    return images, issame


def bin_path(directory: str | os.PathLike[str], benchmark: str) -> Path:
    """Where benchmark ``name`` is expected: ``<directory>/<name>.bin``."""
    return Path(directory) / f"{benchmark}.bin"


def missing_benchmarks(directory: str | os.PathLike[str], benchmarks: Sequence[str]) -> list[str]:
    """One line per benchmark whose ``.bin`` file is missing, naming it and its path."""
    return [
        f"{BENCHMARK_TITLES.get(name, name)} ({name}): {bin_path(directory, name)}"
        for name in benchmarks
        if not bin_path(directory, name).is_file()
    ]
