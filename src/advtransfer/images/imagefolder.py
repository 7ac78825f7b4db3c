"""Target data sets given as an image folder: one sub-folder per class.

Layout (the torchvision ``ImageFolder`` convention)::

    <root>/<class name>/<any name>.png|.jpg|.jpeg|.bmp|.gif|.webp|.tif|.tiff|.ppm|.pgm

Class names are the sub-folder names in sorted order (label ``i`` is the ``i``-th
name); hidden files and folders (starting with ``.``) and files with other extensions
are ignored. :func:`scan_image_folder` checks the layout without reading any image, so
the workflow can reject a bad folder before any job starts; :func:`read_image_folder`
decodes every image with Pillow, converts it to RGB or greyscale and resizes it to a
square of ``image_size`` pixels (bilinear, antialiased), returning uint8 arrays.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageFolderError",
    "ImageFolderIndex",
    "scan_image_folder",
    "read_image_folder",
    "write_image_folder",
]

#: File extensions read as images (compared case-insensitively).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm",
                    ".pgm")

_LAYOUT_HINT = (
    "Fix: point byo.target.image_folder at a directory holding one sub-folder per class, "
    "each with at least one image (" + ", ".join(IMAGE_EXTENSIONS) + ")."
)


class ImageFolderError(ValueError):
    """The image folder is missing, has the wrong layout, or holds an unreadable image."""


@dataclass(frozen=True)
class ImageFolderIndex:
    """The files of an image folder, before decoding.

    Attributes:
        root: the folder.
        classes: class names (sub-folder names), sorted; label ``i`` is ``classes[i]``.
        files: image paths, grouped by class, sorted by name within a class.
        labels: label of each file, shape (N,).
    """

    root: Path
    classes: tuple[str, ...]
    files: tuple[Path, ...]
    labels: np.ndarray

    def counts(self) -> dict[str, int]:
        """Number of images per class."""
        values = np.bincount(self.labels, minlength=len(self.classes))
        return {name: int(c) for name, c in zip(self.classes, values, strict=True)}


def _visible(entry: os.DirEntry) -> bool:
    return not entry.name.startswith(".")


def scan_image_folder(
    root: str | os.PathLike[str], max_per_class: int | None = None
) -> ImageFolderIndex:
    """List the classes and image files of ``root`` without reading the images.

    Args:
        root: folder with one sub-folder per class.
        max_per_class: keep at most this many files per class (the first ones by name).

    Returns:
        an :class:`ImageFolderIndex`.

    Raises:
        ImageFolderError: ``root`` is missing or not a directory, has fewer than two
            class sub-folders, or a class sub-folder holds no image; the message names
            the path and the fix.
    """
    root = Path(root)
    if not root.exists():
        raise ImageFolderError(f"image folder {root} does not exist. {_LAYOUT_HINT}")
    if not root.is_dir():
        raise ImageFolderError(f"image folder {root} is not a directory. {_LAYOUT_HINT}")
    if max_per_class is not None and (isinstance(max_per_class, bool) or max_per_class < 1):
        raise ValueError(f"max_per_class must be a positive integer or None, got {max_per_class!r}")
    with os.scandir(root) as it:
        class_dirs = sorted(e.name for e in it if _visible(e) and e.is_dir())
    if len(class_dirs) < 2:
        found = ", ".join(class_dirs) or "none"
        raise ImageFolderError(
            f"image folder {root} needs at least two class sub-folders, found {found}. "
            f"{_LAYOUT_HINT}"
        )
    files: list[Path] = []
    labels: list[int] = []
    empty: list[str] = []
    for label, name in enumerate(class_dirs):
        with os.scandir(root / name) as it:
            images = sorted(
                e.name for e in it
                if _visible(e) and e.is_file() and e.name.lower().endswith(IMAGE_EXTENSIONS)
            )
        if max_per_class is not None:
            images = images[:max_per_class]
        if not images:
            empty.append(str(root / name))
        files += [root / name / f for f in images]
        labels += [label] * len(images)
    if empty:
        raise ImageFolderError(
            f"class folder(s) without images in {root}: {', '.join(empty)}. {_LAYOUT_HINT}"
        )
    return ImageFolderIndex(root, tuple(class_dirs), tuple(files), np.asarray(labels, np.int64))


def read_image_folder(
    index: ImageFolderIndex,
    *,
    image_size: int,
    channels: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """Decode, convert and resize every image of a scanned folder.

    Each file is opened with Pillow, converted to ``RGB`` (``channels = 3``) or ``L``
    (``channels = 1``; colour images become greyscale, greyscale images are copied to
    three channels for ``channels = 3``), and resized to ``image_size x image_size``
    with bilinear interpolation (Pillow antialiases when shrinking). Aspect ratios are
    not preserved.

    Args:
        index: from :func:`scan_image_folder`.
        image_size: output side length in pixels (>= 1).
        channels: 1 or 3.

    Shape:
        returns images (N, channels, image_size, image_size) and labels (N,).

    Returns:
        ``(images, labels)``: uint8 images in 0..255 and int64 labels.

    Raises:
        ImageFolderError: a file cannot be decoded (the message names it).
        ValueError: bad ``image_size`` or ``channels``.
    """
    from PIL import Image, UnidentifiedImageError

    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise ValueError(f"image_size must be a positive integer, got {image_size!r}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    mode = "RGB" if channels == 3 else "L"
    out = np.empty((len(index.files), channels, image_size, image_size), dtype=np.uint8)
    for i, path in enumerate(index.files):
        try:
            with Image.open(path) as img:
                img = img.convert(mode).resize((image_size, image_size), Image.BILINEAR)
                pixels = np.asarray(img, dtype=np.uint8)
        except (UnidentifiedImageError, OSError, ValueError) as err:
            raise ImageFolderError(
                f"cannot read image {path}: {err}. Fix: replace or delete the file."
            ) from err
        out[i] = pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)
    return out, index.labels.copy()


def write_image_folder(
    root: str | os.PathLike,
    images: np.ndarray,
    labels: np.ndarray,
    classes: tuple[str, ...] | list[str],
    *,
    prefix: str = "",
) -> int:
    """Write images as PNG files ``<root>/<class>/<prefix><i>.png`` (the layout read here).

    Args:
        images: (N, C, H, W), C = 1 (greyscale) or 3 (RGB); uint8, or floats in [0, 1].
        labels: (N,) indices into ``classes``; every class gets a folder, even if empty.

    Returns:
        the number of files written.
    """
    from PIL import Image

    x = np.asarray(images)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"images must be (N, 1 or 3, H, W), got {x.shape}")
    if x.dtype != np.uint8:
        x = np.round(np.clip(x, 0.0, 1.0) * 255).astype(np.uint8)
    root = Path(root)
    for name in classes:
        (root / name).mkdir(parents=True, exist_ok=True)
    for i, (img, label) in enumerate(zip(x, np.asarray(labels), strict=True)):
        pixels = img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)
        Image.fromarray(pixels).save(root / classes[int(label)] / f"{prefix}{i:05d}.png")
    return len(x)
