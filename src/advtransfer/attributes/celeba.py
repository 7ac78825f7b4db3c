"""Reader of the CelebA data set in its published on-disk format (docs/method.md §9.3).

CelebA (Liu et al., "Deep Learning Face Attributes in the Wild", ICCV 2015): 202,599
aligned face images of 10,177 identities with 40 binary attributes and an official
train / val / test partition whose identities are disjoint. The loader expects the
torchvision layout under a data root::

    <root>/celeba/img_align_celeba/000001.jpg ...       aligned 178x218 JPEG images
    <root>/celeba/list_attr_celeba.txt                  N, 40 names, then "file  1 -1 ..."
    <root>/celeba/identity_CelebA.txt                   "file identity"
    <root>/celeba/list_eval_partition.txt               "file 0|1|2" (train, val, test)
    <root>/celeba/list_bbox_celeba.txt                  N, header, "file x y w h"
    <root>/celeba/list_landmarks_align_celeba.txt       N, header, "file x1 y1 ... x5 y5"

The files are parsed here directly (torchvision's ``CelebA`` class insists on the md5
sums of the original archives, and is only used for the opt-in download). Faces are cut
out of the aligned images either by a similarity transform that moves the five aligned
landmarks onto the ArcFace 112x112 template (``crop="arcface"``, the alignment of the
insightface ``.bin`` verification benchmarks, so that attribute models see the same
framing in training and in verification) or by a fixed central square (``"center"``).
The bounding boxes refer to the in-the-wild images (``img_celeba``) and are read and
checked but not used for the aligned crops.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from advtransfer.images.datasets import DatasetNotFoundError

__all__ = [
    "CELEBA_ATTRIBUTES",
    "LIST_FILES",
    "IMAGE_DIR",
    "PARTITIONS",
    "ARCFACE_TEMPLATE_112",
    "CROPS",
    "CelebAIndex",
    "celeba_dir",
    "celeba_files",
    "check_celeba",
    "read_celeba_index",
    "similarity_transform",
    "load_faces",
    "download_celeba",
]

logger = logging.getLogger(__name__)

#: The 40 attributes, in the column order of list_attr_celeba.txt.
CELEBA_ATTRIBUTES: tuple[str, ...] = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald",
    "Bangs", "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair",
    "Bushy_Eyebrows", "Chubby", "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair",
    "Heavy_Makeup", "High_Cheekbones", "Male", "Mouth_Slightly_Open", "Mustache",
    "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose",
    "Receding_Hairline", "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair",
    "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace",
    "Wearing_Necktie", "Young",
)  # fmt: skip

#: The five annotation files, by role.
LIST_FILES: dict[str, str] = {
    "attributes": "list_attr_celeba.txt",
    "identity": "identity_CelebA.txt",
    "partition": "list_eval_partition.txt",
    "bbox": "list_bbox_celeba.txt",
    "landmarks": "list_landmarks_align_celeba.txt",
}
IMAGE_DIR = "img_align_celeba"
#: Official partition codes of list_eval_partition.txt.
PARTITIONS: dict[str, int] = {"train": 0, "val": 1, "test": 2}
#: ArcFace / insightface 112x112 template: left eye, right eye, nose, left and right mouth.
ARCFACE_TEMPLATE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
     [41.5493, 92.3655], [70.7299, 92.2041]], dtype=np.float64,
)  # fmt: skip
CROPS: tuple[str, ...] = ("arcface", "center")
URL = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"


@dataclass(frozen=True)
class CelebAIndex:
    """The annotations of CelebA, one row per image, in list_attr_celeba.txt order.

    Attributes:
        filenames: image file names, (N,).
        attribute_names: the 40 names of the header.
        attributes: 0/1 attribute matrix (file value 1 -> 1, -1 -> 0), uint8 (N, 40).
        identity: identity number per image, int64 (N,).
        partition: 0 train, 1 val, 2 test, int64 (N,).
        bbox: x, y, width, height in the in-the-wild image, int64 (N, 4).
        landmarks: five (x, y) points in the aligned image, float64 (N, 5, 2).
    """

    filenames: np.ndarray
    attribute_names: tuple[str, ...]
    attributes: np.ndarray
    identity: np.ndarray
    partition: np.ndarray
    bbox: np.ndarray
    landmarks: np.ndarray

    def __len__(self) -> int:
        return int(self.filenames.shape[0])


def celeba_dir(root: str | os.PathLike[str]) -> Path:
    """``<root>/celeba``, where torchvision puts CelebA."""
    return Path(root) / "celeba"


def celeba_files(root: str | os.PathLike[str]) -> list[Path]:
    """The image directory and the five list files CelebA must provide."""
    base = celeba_dir(root)
    return [base / IMAGE_DIR] + [base / name for name in LIST_FILES.values()]


def check_celeba(root: str | os.PathLike[str], download: bool = False) -> None:
    """Raise :class:`DatasetNotFoundError` listing every missing CelebA path.

    With ``download`` the missing files are fetched once through torchvision first.
    """
    missing = [p for p in celeba_files(root) if not p.exists()]
    if missing and download:
        download_celeba(root)
        missing = [p for p in celeba_files(root) if not p.exists()]
    if missing:
        raise DatasetNotFoundError(
            f"CelebA not found under data_root {str(root)!r}; missing:\n  "
            + "\n  ".join(str(p) for p in missing)
            + "\nFix: set `download: true` in the attributes config to fetch it once with "
            "torchvision, or download the aligned images (img_align_celeba.zip) and the five "
            f"annotation files from {URL} and put them under {celeba_dir(root)}."
        )


def _read_lines(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8") as fh:
        return [line.split() for line in fh if line.strip()]


def _counted_table(path: Path, header: Sequence[str] | None) -> tuple[list[str], list[list[str]]]:
    """Files with a count line and a header line: returns (header names, rows)."""
    lines = _read_lines(path)
    if len(lines) < 2 or len(lines[0]) != 1 or not lines[0][0].isdigit():
        raise ValueError(f"{path}: expected an image count on the first line")
    count = int(lines[0][0])
    names, rows = lines[1], lines[2:]
    if names and names[0] == "image_id":
        names = names[1:]
    if header is not None and tuple(names) != tuple(header):
        raise ValueError(f"{path}: header {names} differs from the expected {list(header)}")
    if len(rows) != count:
        raise ValueError(f"{path}: announces {count} images but lists {len(rows)} (truncated?)")
    return names, rows


def _columns(path: Path, rows: list[list[str]], width: int) -> tuple[np.ndarray, np.ndarray]:
    bad = next((i for i, r in enumerate(rows) if len(r) != width + 1), None)
    if bad is not None:
        raise ValueError(
            f"{path}: line for {rows[bad][0] if rows[bad] else '?'} has {len(rows[bad]) - 1} "
            f"values, expected {width}"
        )
    names = np.array([r[0] for r in rows])
    try:
        values = np.array([r[1:] for r in rows], dtype=np.int64).reshape(len(rows), width)
    except ValueError as err:
        raise ValueError(f"{path}: non-integer value ({err})") from err
    return names, values


def _align_to(
    reference: np.ndarray, names: np.ndarray, values: np.ndarray, path: Path
) -> np.ndarray:
    if names.shape == reference.shape and np.array_equal(names, reference):
        return values
    position = {n: i for i, n in enumerate(names)}
    absent = [n for n in reference if n not in position]
    if absent or len(names) != len(reference):
        raise ValueError(
            f"{path} lists other images than {LIST_FILES['attributes']} "
            f"(e.g. missing {absent[:3]}); the annotation files must describe the same images"
        )
    return values[[position[n] for n in reference]]


def read_celeba_index(root: str | os.PathLike[str]) -> CelebAIndex:
    """Parse and cross-check the five CelebA annotation files.

    Args:
        root: data root holding ``celeba/``.

    Returns:
        A :class:`CelebAIndex` in the row order of list_attr_celeba.txt.

    Raises:
        DatasetNotFoundError: a file is missing (all missing paths are listed).
        ValueError: malformed files, attribute values other than +-1, partition codes
            other than 0/1/2, or files that describe different images.
    """
    check_celeba(root)
    base = celeba_dir(root)
    path = base / LIST_FILES["attributes"]
    header, rows = _counted_table(path, None)
    if len(header) != len(CELEBA_ATTRIBUTES) or set(header) != set(CELEBA_ATTRIBUTES):
        raise ValueError(f"{path}: attribute names {header} are not the 40 CelebA attributes")
    filenames, attr = _columns(path, rows, len(header))
    if not np.isin(attr, (-1, 1)).all():
        raise ValueError(f"{path}: attribute values must be 1 or -1")
    attributes = (attr == 1).astype(np.uint8)

    path = base / LIST_FILES["identity"]
    names, ident = _columns(path, _read_lines(path), 1)
    identity = _align_to(filenames, names, ident, path)[:, 0]

    path = base / LIST_FILES["partition"]
    names, part = _columns(path, _read_lines(path), 1)
    partition = _align_to(filenames, names, part, path)[:, 0]
    if not np.isin(partition, list(PARTITIONS.values())).all():
        raise ValueError(f"{path}: partition codes must be 0 (train), 1 (val) or 2 (test)")

    path = base / LIST_FILES["bbox"]
    _, rows = _counted_table(path, ("x_1", "y_1", "width", "height"))
    names, bbox = _columns(path, rows, 4)
    bbox = _align_to(filenames, names, bbox, path)

    path = base / LIST_FILES["landmarks"]
    marks = ("lefteye", "righteye", "nose", "leftmouth", "rightmouth")
    _, rows = _counted_table(path, [f"{m}_{c}" for m in marks for c in "xy"])
    names, lm = _columns(path, rows, 10)
    landmarks = _align_to(filenames, names, lm, path).reshape(-1, 5, 2).astype(np.float64)

    return CelebAIndex(
        filenames=filenames, attribute_names=tuple(header), attributes=attributes,
        identity=identity, partition=partition, bbox=bbox, landmarks=landmarks,
    )


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping src to dst.

    Umeyama (1991), without reflection: minimises sum ||s R p_i + t - q_i||^2.

    Shape:
        src, dst: (K, 2) points (x, y), K >= 2; output: (2, 3) matrix [s R | t].
    """
    p = np.asarray(src, dtype=np.float64)
    q = np.asarray(dst, dtype=np.float64)
    if p.shape != q.shape or p.ndim != 2 or p.shape[1] != 2 or p.shape[0] < 2:
        raise ValueError(f"src and dst must both have shape (K >= 2, 2), got {p.shape}, {q.shape}")
    mp, mq = p.mean(0), q.mean(0)
    pc, qc = p - mp, q - mq
    var = (pc**2).sum() / len(p)
    if var == 0:
        raise ValueError("src points coincide; no similarity transform is defined")
    u, sig, vt = np.linalg.svd(qc.T @ pc / len(p))
    d = np.diag([1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rot = u @ d @ vt
    scale = float(np.trace(np.diag(sig) @ d) / var)
    shift = mq - scale * rot @ mp
    return np.hstack([scale * rot, shift[:, None]])


def _crop_one(path: Path, landmarks: np.ndarray | None, size: int, crop: str) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as img:
        img = img.convert("RGB")
        if crop == "arcface":
            forward = similarity_transform(landmarks, ARCFACE_TEMPLATE_112 * (size / 112.0))
            a = forward[:, :2]
            inverse_a = np.linalg.inv(a)
            inverse_t = -inverse_a @ forward[:, 2]
            coeffs = (*inverse_a[0], inverse_t[0], *inverse_a[1], inverse_t[1])
            out = img.transform((size, size), Image.AFFINE, coeffs, resample=Image.BILINEAR)
        else:
            w, h = img.size
            side = min(w, h)
            left, top = (w - side) // 2, (h - side) // 2
            out = img.crop((left, top, left + side, top + side))
            out = out.resize((size, size), Image.BILINEAR)
        return np.asarray(out, dtype=np.uint8).transpose(2, 0, 1)


def load_faces(
    root: str | os.PathLike[str],
    filenames: Sequence[str],
    landmarks: np.ndarray | None,
    *,
    size: int = 112,
    crop: str = "arcface",
    threads: int = 1,
) -> np.ndarray:
    """Decode and crop aligned CelebA images to ``size`` x ``size`` RGB.

    Args:
        root: data root holding ``celeba/``.
        filenames: image names inside ``img_align_celeba``.
        landmarks: (N, 5, 2) aligned landmarks (required for ``crop="arcface"``).
        size: output side in pixels.
        crop: ``"arcface"`` (5-point similarity alignment to the ArcFace template scaled to
            ``size``) or ``"center"`` (central square, resized).
        threads: decoding threads.

    Returns:
        uint8 (N, 3, size, size).

    Raises:
        DatasetNotFoundError: image files missing (the first few are named).
        ValueError: bad crop, size or landmark shape.
    """
    if crop not in CROPS:
        raise ValueError(f"unknown crop {crop!r}; choose one of {', '.join(CROPS)}")
    if size < 8:
        raise ValueError(f"size must be >= 8 pixels, got {size}")
    base = celeba_dir(root) / IMAGE_DIR
    paths = [base / name for name in filenames]
    present = set(os.listdir(base)) if base.is_dir() else set()
    absent = [str(p) for p, n in zip(paths, filenames) if n not in present]
    if absent:
        raise DatasetNotFoundError(
            f"{len(absent)} CelebA images are missing, e.g. {', '.join(absent[:5])}; "
            f"re-extract img_align_celeba.zip under {celeba_dir(root)}"
        )
    if crop == "arcface":
        if landmarks is None or np.shape(landmarks) != (len(paths), 5, 2):
            raise ValueError(f"crop='arcface' needs landmarks of shape ({len(paths)}, 5, 2)")
    out = np.empty((len(paths), 3, size, size), dtype=np.uint8)

    def work(i: int) -> None:
        out[i] = _crop_one(paths[i], None if landmarks is None else landmarks[i], size, crop)

    from tqdm import tqdm

    with ThreadPoolExecutor(max_workers=max(1, int(threads))) as pool:
        for _ in tqdm(pool.map(work, range(len(paths))), total=len(paths), desc="faces",
                      unit="img", mininterval=10, disable=len(paths) < 5000):
            pass
    return out


def download_celeba(root: str | os.PathLike[str]) -> None:
    """Fetch CelebA once with ``torchvision.datasets.CelebA(root, download=True)``.

    Google Drive often refuses the archives (quota); the error then says to download them
    by hand.
    """
    import torchvision.datasets as tvd

    logger.info("downloading CelebA into %s via torchvision", root)
    Path(root).mkdir(parents=True, exist_ok=True)
    try:
        tvd.CelebA(str(root), split="all", target_type="attr", download=True)
    except Exception as err:  # network and quota errors come in many types
        raise DatasetNotFoundError(
            f"downloading CelebA into {root} failed ({err}). Download img_align_celeba.zip and "
            f"the five annotation files from {URL} by hand and put them under "
            f"{celeba_dir(root)}."
        ) from err
