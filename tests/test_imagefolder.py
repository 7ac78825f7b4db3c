"""Image-folder reader: layout checks (naming the path and the fix) and decoding."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from advtransfer.images import imagefolder


def write_png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def make_folder(root, sizes=(3, 2), shape=(10, 14, 3)):
    for c, n in enumerate(sizes):
        for i in range(n):
            write_png(root / f"class_{c}" / f"img{i}.png",
                      np.full(shape, 40 * c + i, dtype=np.uint8))
    return root


def test_scan_lists_classes_sorted_and_ignores_other_files(tmp_path):
    root = make_folder(tmp_path / "target", sizes=(3, 2))
    (root / "class_0" / "notes.txt").write_text("not an image")
    (root / "class_1" / ".hidden.png").write_bytes(b"")
    (root / ".cache").mkdir()
    (root / "README.md").write_text("ignored")
    index = imagefolder.scan_image_folder(root)
    assert index.classes == ("class_0", "class_1")
    assert index.counts() == {"class_0": 3, "class_1": 2}
    assert index.labels.tolist() == [0, 0, 0, 1, 1]
    assert imagefolder.scan_image_folder(root, max_per_class=1).counts() == {
        "class_0": 1, "class_1": 1}


def test_read_resizes_and_converts(tmp_path):
    root = make_folder(tmp_path / "t", sizes=(2, 2))
    write_png(root / "class_1" / "grey.png", np.full((5, 5), 200, dtype=np.uint8))
    index = imagefolder.scan_image_folder(root)
    x, y = imagefolder.read_image_folder(index, image_size=8, channels=3)
    assert x.shape == (5, 3, 8, 8) and x.dtype == np.uint8
    assert y.tolist() == [0, 0, 1, 1, 1]
    # class_1 sorted by name: grey.png (200), img0.png (40), img1.png (41)
    assert np.all(x[0] == 0) and np.all(x[2] == 200) and np.all(x[4] == 41)
    grey, _ = imagefolder.read_image_folder(index, image_size=4, channels=1)
    assert grey.shape == (5, 1, 4, 4)


@pytest.mark.parametrize("case", ["missing", "file", "one_class", "empty_class"])
def test_bad_folders_name_the_path_and_fix(tmp_path, case):
    root = tmp_path / "target"
    if case == "file":
        root.write_text("x")
    elif case == "one_class":
        make_folder(root, sizes=(2,))
    elif case == "empty_class":
        make_folder(root, sizes=(2, 1))
        (root / "class_2").mkdir()
    with pytest.raises(imagefolder.ImageFolderError) as err:
        imagefolder.scan_image_folder(root)
    message = str(err.value)
    assert str(root) in message and "Fix:" in message
    if case == "empty_class":
        assert str(root / "class_2") in message


def test_corrupt_image_is_named(tmp_path):
    root = make_folder(tmp_path / "t", sizes=(1, 1))
    bad = root / "class_1" / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    index = imagefolder.scan_image_folder(root)
    with pytest.raises(imagefolder.ImageFolderError, match="broken.png"):
        imagefolder.read_image_folder(index, image_size=4)
    with pytest.raises(ValueError, match="channels"):
        imagefolder.read_image_folder(index, image_size=4, channels=2)
