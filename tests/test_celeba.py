"""CelebA reader on fake files in the published format: parsing, checks, face crops."""

from __future__ import annotations

import numpy as np
import pytest
from fakes_faces import write_fake_celeba

from advtransfer.attributes.celeba import (
    ARCFACE_TEMPLATE_112,
    CELEBA_ATTRIBUTES,
    load_faces,
    read_celeba_index,
    similarity_transform,
)
from advtransfer.images.datasets import DatasetNotFoundError


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    truth = write_fake_celeba(root, identities={"train": 2, "val": 1, "test": 1},
                              images_per_identity=3, seed=4)
    return root, truth


def test_index_matches_what_was_written(fake_root):
    root, truth = fake_root
    index = read_celeba_index(root)
    assert len(index) == 12 and index.attribute_names == CELEBA_ATTRIBUTES
    np.testing.assert_array_equal(index.filenames, truth["filenames"])
    np.testing.assert_array_equal(index.identity, truth["identity"])
    np.testing.assert_array_equal(index.partition, truth["partition"])
    np.testing.assert_array_equal(index.attributes, truth["attributes"])
    np.testing.assert_array_equal(index.landmarks, truth["landmarks"])
    assert index.bbox.shape == (12, 4)
    assert (np.bincount(index.partition) >= 2).all()  # every split has >= 2 images
    for split in range(3):  # identities do not cross the official splits
        others = index.identity[index.partition != split]
        assert not set(index.identity[index.partition == split]) & set(others)


def test_missing_files_are_all_listed(tmp_path):
    root = tmp_path / "data"
    write_fake_celeba(root, identities={"train": 1, "val": 1, "test": 1}, images_per_identity=2)
    (root / "celeba/list_bbox_celeba.txt").unlink()
    (root / "celeba/identity_CelebA.txt").unlink()
    with pytest.raises(DatasetNotFoundError) as err:
        read_celeba_index(root)
    msg = str(err.value)
    assert "celeba/list_bbox_celeba.txt" in msg and "celeba/identity_CelebA.txt" in msg
    assert "list_attr_celeba.txt" not in msg and "download: true" in msg


def test_malformed_files_are_named(tmp_path):
    root = tmp_path / "data"
    write_fake_celeba(root, identities={"train": 1, "val": 1, "test": 1}, images_per_identity=2)
    path = root / "celeba/list_attr_celeba.txt"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n")  # one image short of the announced count
    with pytest.raises(ValueError, match="announces 6 images but lists 5"):
        read_celeba_index(root)
    path.write_text("\n".join(lines[:2] + [lines[2].replace(" 1", " 0", 1)] + lines[3:]) + "\n")
    with pytest.raises(ValueError, match="must be 1 or -1"):
        read_celeba_index(root)
    path.write_text("\n".join(lines) + "\n")
    part = root / "celeba/list_eval_partition.txt"
    part.write_text(part.read_text().replace(" 2\n", " 7\n"))
    with pytest.raises(ValueError, match="partition codes"):
        read_celeba_index(root)


def test_similarity_transform_recovers_a_known_map():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, size=(5, 2))
    angle, scale, shift = 0.3, 1.7, np.array([5.0, -2.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = scale * src @ rot.T + shift
    np.testing.assert_allclose(similarity_transform(src, dst),
                               np.hstack([scale * rot, shift[:, None]]), atol=1e-9)


def test_arcface_crop_puts_landmarks_on_the_template(tmp_path):
    from PIL import Image

    root = tmp_path / "data"
    truth = write_fake_celeba(root, identities={"train": 1, "val": 1, "test": 1},
                              images_per_identity=2, seed=1)
    name, marks = truth["filenames"][0], truth["landmarks"][0]
    canvas = np.zeros((218, 178, 3), dtype=np.uint8)
    for x, y in marks.astype(int):  # bright 3x3 dots on the five landmarks
        canvas[y - 1 : y + 2, x - 1 : x + 2] = 255
    Image.fromarray(canvas).save(root / "celeba/img_align_celeba" / name, format="PNG")
    faces = load_faces(root, [name], marks[None], size=112, crop="arcface")
    assert faces.shape == (1, 3, 112, 112) and faces.dtype == np.uint8
    grey = faces[0].astype(float).mean(0)
    fitted = similarity_transform(marks, ARCFACE_TEMPLATE_112)
    for mark, target in zip(marks, ARCFACE_TEMPLATE_112):
        px, py = np.rint(fitted @ np.r_[mark, 1.0]).astype(int)
        assert np.hypot(px - target[0], py - target[1]) < 8  # near its template point
        assert grey[py - 2 : py + 3, px - 2 : px + 3].max() > 100, (mark, target)
    assert grey.mean() < 20  # the rest of the crop stays dark
    centre = load_faces(root, list(truth["filenames"][:2]), None, size=16, crop="center")
    assert centre.shape == (2, 3, 16, 16)
    with pytest.raises(DatasetNotFoundError, match="1 CelebA images are missing"):
        load_faces(root, ["999999.jpg"], None, size=16, crop="center")
