"""Fake CelebA and insightface ``.bin`` files in their real on-disk formats, for tests.

* CelebA (torchvision layout): ``<root>/celeba/img_align_celeba/NNNNNN.jpg`` (178x218 JPEG)
  and the five annotation files, with the count and header lines and the column
  alignment of the originals. Each identity belongs to one official partition, as in the
  real data (identity-disjoint splits).
* insightface ``.bin``: a pickle of ``(bins, issame)``. The real files were written by
  Python 2 at protocol 2 (images as ``str``, i.e. BINSTRING opcodes, bools as NEWTRUE /
  NEWFALSE); :func:`py2_bin_pickle` emits that byte layout opcode by opcode, and
  :func:`write_fake_bin` can also write a Python 3 pickle.
"""

from __future__ import annotations

import io
import pickle
import struct
from pathlib import Path

import numpy as np

from advtransfer.attributes.celeba import CELEBA_ATTRIBUTES

__all__ = ["encode_image", "py2_bin_pickle", "write_fake_bin", "write_fake_celeba",
           "CELEBA_LANDMARKS"]

#: Typical aligned-CelebA landmarks (lefteye, righteye, nose, leftmouth, rightmouth).
CELEBA_LANDMARKS = np.array([[69, 111], [108, 111], [88, 135], [71, 153], [105, 153]], dtype=float)


def encode_image(image: np.ndarray, fmt: str = "PNG") -> bytes:
    """Encode an (H, W, 3) uint8 image as PNG (lossless) or JPEG bytes."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buf, format=fmt, quality=95)
    return buf.getvalue()


def _p_bytes(raw: bytes) -> bytes:
    if len(raw) < 256:
        return b"U" + bytes([len(raw)]) + raw  # SHORT_BINSTRING
    return b"T" + struct.pack("<i", len(raw)) + raw  # BINSTRING


def py2_bin_pickle(bins: list[bytes], issame: list[bool]) -> bytes:
    """``(bins, issame)`` as Python 2's cPickle writes it at protocol 2."""
    images = b"](" + b"".join(_p_bytes(b) for b in bins) + b"e"
    flags = b"](" + b"".join(b"\x88" if v else b"\x89" for v in issame) + b"e"
    return b"\x80\x02" + images + flags + b"\x86" + b"."  # TUPLE2, STOP


def write_fake_bin(
    path: str | Path,
    n_pairs: int = 20,
    size: int = 112,
    seed: int = 0,
    style: str = "py2",
    fmt: str = "PNG",
) -> tuple[np.ndarray, np.ndarray]:
    """Write a fake verification benchmark; same pairs share a base image plus noise.

    Args:
        path: destination ``.bin``.
        n_pairs: number of pairs P (half "same").
        size: image side.
        seed: seed of images and flags.
        style: ``"py2"`` (protocol-2 bytes as BINSTRING), ``"py3"`` (protocol 4) or
            ``"py3_protocol2"`` (Python 3 at protocol 2: bytes via ``_codecs.encode``).
        fmt: ``"PNG"`` or ``"JPEG"``.

    Returns:
        ``(images, issame)``: the (2P, H, W, 3) uint8 images written and P bools.
    """
    rng = np.random.default_rng(seed)
    issame = (np.arange(n_pairs) % 2 == 0)
    rng.shuffle(issame)
    images = []
    for same in issame:
        a = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
        if same:
            noise = rng.integers(-20, 21, size=a.shape)
            b = np.clip(a.astype(int) + noise, 0, 255).astype(np.uint8)
        else:
            b = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
        images += [a, b]
    bins = [encode_image(im, fmt) for im in images]
    flags = [bool(v) for v in issame]
    if style == "py2":
        data = py2_bin_pickle(bins, flags)
    elif style == "py3":
        data = pickle.dumps((bins, flags), protocol=4)
    elif style == "py3_protocol2":
        data = pickle.dumps((bins, [np.bool_(v) for v in flags]), protocol=2)
    else:
        raise ValueError(f"unknown style {style!r}")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(data)
    return np.stack(images), np.asarray(flags)


def write_fake_celeba(
    root: str | Path,
    identities: dict[str, int] | None = None,
    images_per_identity: int = 4,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Write a fake ``<root>/celeba`` in the published format.

    Args:
        root: data root.
        identities: identities per official partition, default
            ``{"train": 3, "val": 1, "test": 2}`` (every split gets >= 2 images).
        images_per_identity: images of each identity.
        seed: seed of pixels, attributes and landmark jitter.

    Returns:
        dict with ``filenames``, ``identity``, ``partition``, ``attributes`` (0/1) and
        ``landmarks`` (N, 5, 2) as written.
    """
    from PIL import Image

    identities = identities or {"train": 3, "val": 1, "test": 2}
    rng = np.random.default_rng(seed)
    base = Path(root) / "celeba"
    (base / "img_align_celeba").mkdir(parents=True, exist_ok=True)
    codes = {"train": 0, "val": 1, "test": 2}
    ident, part = [], []
    next_id = 1
    for split, n_id in identities.items():
        for _ in range(n_id):
            ident += [next_id] * images_per_identity
            part += [codes[split]] * images_per_identity
            next_id += 1
    n = len(ident)
    order = rng.permutation(n)  # identities interleave in file order, as in CelebA
    ident, part = np.asarray(ident)[order], np.asarray(part)[order]
    names = [f"{i + 1:06d}.jpg" for i in range(n)]
    colours = {i: rng.integers(40, 216, size=3) for i in set(ident.tolist())}
    landmarks = CELEBA_LANDMARKS[None] + rng.integers(-3, 4, size=(n, 5, 2))
    attributes = rng.integers(0, 2, size=(n, len(CELEBA_ATTRIBUTES)))
    for k in range(n):
        img = np.clip(colours[int(ident[k])] + rng.normal(0, 25, size=(218, 178, 3)), 0, 255)
        Image.fromarray(img.astype(np.uint8)).save(base / "img_align_celeba" / names[k],
                                                   quality=90)
    signs = np.where(attributes == 1, " 1", "-1")
    lines = [str(n), " ".join(CELEBA_ATTRIBUTES) + " "]
    lines += [f"{names[k]} " + " ".join(signs[k]) for k in range(n)]
    (base / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    (base / "identity_CelebA.txt").write_text(
        "".join(f"{names[k]} {ident[k]}\n" for k in range(n)))
    (base / "list_eval_partition.txt").write_text(
        "".join(f"{names[k]} {part[k]}\n" for k in range(n)))
    bbox = rng.integers(20, 200, size=(n, 4))
    lines = [str(n), "image_id x_1 y_1 width height"]
    lines += [f"{names[k]} {bbox[k, 0]:5d} {bbox[k, 1]:4d} {bbox[k, 2]:4d} {bbox[k, 3]:4d}"
              for k in range(n)]
    (base / "list_bbox_celeba.txt").write_text("\n".join(lines) + "\n")
    parts = ("lefteye", "righteye", "nose", "leftmouth", "rightmouth")
    lines = [str(n), " ".join(f"{p}_{c}" for p in parts for c in "xy")]
    lines += [f"{names[k]} " + " ".join(f"{int(v):4d}" for v in landmarks[k].ravel())
              for k in range(n)]
    (base / "list_landmarks_align_celeba.txt").write_text("\n".join(lines) + "\n")
    return {"filenames": np.asarray(names), "identity": ident, "partition": part,
            "attributes": attributes, "landmarks": landmarks.astype(float)}
