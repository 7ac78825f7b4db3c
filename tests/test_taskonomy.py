"""Tests of advtransfer.tasks.taskonomy and of the task tree on the public Taskonomy affinities.

Tests marked by the ``taskonomy_dir`` fixture read the shared affinity files
(``resources/taskonomy`` in the repository, or ``$ADVTRANSFER_TASKONOMY_DIR``) and
skip, saying why, where they are absent. Run with ``-s`` to see the reported curves.
"""

from __future__ import annotations

import collections
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score
from conftest import REPO

from advtransfer.tasks import taskonomy as tx
from advtransfer.tasks.graph import cut_tree, entropy_curve, normalise, task_tree

SEMANTIC = {"segmentsemantic", "class_1000", "class_places"}
CORE_3D = {"edge3d", "keypoint3d", "reshade", "rgb2depth", "rgb2mist", "segment25d"}


# ------------------------------------------------------------------ no data needed


def test_task_names_and_categories():
    assert len(tx.TASKONOMY_15) == 15 == len(set(tx.TASKONOMY_15))
    assert set(tx.TASKONOMY_CATEGORIES) == set(tx.TASKONOMY_15)
    counts = collections.Counter(tx.categories_of(tx.TASKONOMY_15))
    assert counts == {"2D": 5, "3D": 7, "semantic": 3}
    assert {t for t, c in tx.TASKONOMY_CATEGORIES.items() if c == "semantic"} == SEMANTIC
    with pytest.raises(ValueError, match="no a-priori category"):
        tx.categories_of(["jigsaw"])


def test_data_dir_env_override(monkeypatch, tmp_path):
    monkeypatch.setenv(tx.DATA_DIR_ENV, str(tmp_path))
    assert tx.default_data_dir() == tmp_path
    monkeypatch.delenv(tx.DATA_DIR_ENV)
    assert tx.default_data_dir() == REPO / "resources" / "taskonomy"
    assert (tx.default_data_dir() / "all_affinities.pkl").is_file()  # shipped


def test_missing_files_say_where_to_get_them(tmp_path):
    missing = tmp_path / "nope" / tx.AFFINITY_PICKLE_NAME
    for loader in (tx.load_affinity_pickle, tx.load_affinity_csv):
        with pytest.raises(FileNotFoundError) as info:
            loader(missing)
        message = str(info.value)
        assert str(missing) in message
        assert "StanfordVL/taskonomy" in message and tx.DATA_DIR_ENV in message


@pytest.mark.parametrize("protocol", [3, 4, 5])  # the shared file is protocol 3
def test_restricted_unpickler_reads_numpy_scalars(tmp_path, protocol):
    affinities = {
        f"{s}__{t}": np.float64(i + 1.0)
        for i, (s, t) in enumerate([(s, t) for t in ("a", "b") for s in ("a", "b")])
    }
    affinities["a__b__a"] = 0.5  # second-order key, plain float
    path = tmp_path / "aff.pkl"
    path.write_bytes(pickle.dumps(affinities, protocol=protocol))
    read = tx.read_affinity_pickle(path)
    assert read == {k: float(v) for k, v in affinities.items()}
    frame = tx.load_affinity_pickle(path, tasks=["a", "b"], aliases={})
    # rows = targets, columns = sources: frame.loc[t, s] = pickle["s__t"]
    assert frame.loc["b", "a"] == affinities["a__b"] and frame.loc["a", "b"] == affinities["b__a"]
    with pytest.raises(ValueError, match="missing"):
        tx.load_affinity_pickle(path, tasks=["a", "c"], aliases={})


class _Payload:
    def __reduce__(self):
        return (print, ("pwned",))


@pytest.mark.parametrize(
    "payload",
    [
        {"a__b": _Payload()},
        {"a__b": collections.OrderedDict()},
        {"a__b": np.array([1.0, 2.0])},  # arrays need numpy reconstructors that are refused
    ],
)
def test_restricted_unpickler_refuses_other_globals(tmp_path, payload):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(payload, protocol=4))
    with pytest.raises(pickle.UnpicklingError):
        tx.read_affinity_pickle(path)


def test_restricted_unpickler_refuses_object_dtype_scalar(tmp_path):
    # hand-written pickle: numpy.core.multiarray.scalar(dtype('O'), ...) must be refused
    stream = (
        b"\x80\x02cnumpy.core.multiarray\nscalar\ncnumpy\ndtype\nX\x02\x00\x00\x00O8"
        b"K\x00K\x01\x87RN\x86R."
    )
    path = tmp_path / "obj.pkl"
    path.write_bytes(stream)
    with pytest.raises(pickle.UnpicklingError, match="dtype"):
        tx.read_affinity_pickle(path)


def test_non_dict_pickle_is_rejected(tmp_path):
    path = tmp_path / "list.pkl"
    path.write_bytes(pickle.dumps([1.0, 2.0]))
    with pytest.raises(ValueError, match="dict"):
        tx.read_affinity_pickle(path)


def test_csv_loader_round_trip_and_validation(tmp_path):
    path = tmp_path / "aff.csv"
    path.write_text("# a,b\n1.0,0.5\n0.25,2.0\n")
    frame = tx.load_affinity_csv(path)
    assert list(frame.index) == ["a", "b"] and list(frame.columns) == ["a", "b"]
    assert frame.index.name == "target" and frame.columns.name == "source"
    assert frame.loc["a", "b"] == 0.5
    path.write_text("# a,b\n1.0,0.5\n")
    with pytest.raises(ValueError, match="square"):
        tx.load_affinity_csv(path)
    path.write_text("# a,b\n1.0,-0.5\n0.25,2.0\n")
    with pytest.raises(ValueError, match="non-negative"):
        tx.load_affinity_csv(path)


# ------------------------------------------------------------- shared Taskonomy data


@pytest.fixture(scope="module")
def taskonomy_dir() -> Path:
    directory = tx.default_data_dir()
    needed = [directory / tx.AFFINITY_CSV_NAME, directory / tx.AFFINITY_PICKLE_NAME]
    absent = [str(p) for p in needed if not p.is_file()]
    if absent:
        pytest.skip(
            f"Taskonomy affinity files absent ({', '.join(absent)}); set "
            f"${tx.DATA_DIR_ENV} to their directory; {tx.AFFINITY_SOURCE_HINT}"
        )
    return directory


@pytest.fixture(scope="module")
def affinity_csv(taskonomy_dir: Path) -> pd.DataFrame:
    return tx.load_affinity_csv(taskonomy_dir / tx.AFFINITY_CSV_NAME)


def test_pickle_slice_equals_csv(taskonomy_dir, affinity_csv):
    assert tuple(affinity_csv.index) == tx.TASKONOMY_15 == tuple(affinity_csv.columns)
    from_pickle = tx.load_affinity_pickle(taskonomy_dir / tx.AFFINITY_PICKLE_NAME)
    pd.testing.assert_index_equal(from_pickle.index, affinity_csv.index)
    pd.testing.assert_index_equal(from_pickle.columns, affinity_csv.columns)
    # the CSV keeps 6 significant digits of the very same (AHP-normalised) numbers
    np.testing.assert_allclose(from_pickle.to_numpy(), affinity_csv.to_numpy(), rtol=1e-5)
    # orientation: rows = targets, columns = sources, e.g. curvature -> rgb2sfnorm
    raw = tx.read_affinity_pickle(taskonomy_dir / tx.AFFINITY_PICKLE_NAME)
    assert affinity_csv.loc["rgb2sfnorm", "curvature"] == pytest.approx(
        raw["curvature__rgb2sfnorm"], rel=1e-5
    )


def test_pickle_holds_normalised_affinities_over_37_sources(taskonomy_dir, affinity_csv):
    raw = tx.read_affinity_pickle(taskonomy_dir / tx.AFFINITY_PICKLE_NAME)
    by_target: dict[str, list[float]] = collections.defaultdict(list)
    for key, value in raw.items():
        by_target[key.split("__")[-1]].append(value)
    assert len(by_target) == 22
    for target, values in by_target.items():
        assert len(values) == 37, target
        assert sum(values) == pytest.approx(1.0, abs=1e-6), target
    # ... so the 15-source slice is not renormalised: its rows sum to well below 1
    assert np.all(affinity_csv.sum(axis=1) < 0.5)


def _clusters(labels: np.ndarray, tasks: list[str]) -> list[set[str]]:
    return [{t for t, label in zip(tasks, labels) if label == c} for c in sorted(set(labels))]


def test_task_tree_on_taskonomy_slice(taskonomy_dir, affinity_csv):
    tasks = list(affinity_csv.columns)
    reference = tx.categories_of(tasks)
    variants = {
        # the paper's procedure: Ward on the raw columns (source transfer-out profiles)
        "raw columns": affinity_csv,
        # each source's profile scaled to sum 1 (scale-free shapes)
        "column-normalised": normalise(affinity_csv, "columns"),
    }
    curves = {}
    for name, matrix in variants.items():
        z = task_tree(matrix)
        curve = entropy_curve(z, reference)
        curves[name] = curve
        print(f"\n[{name}] entropy (nats, size-weighted) and ARI vs 2D/3D/semantic:")
        print(curve.round(3).to_string(index=False))
        print(f"[{name}] k=3 clusters:", [sorted(c) for c in _clusters(cut_tree(z, 3), tasks)])

        k3 = _clusters(cut_tree(z, 3), tasks)
        # robust: at k = 3 the tree agrees clearly with the a-priori categories ...
        assert curve.loc[curve["k"] == 3, "ari"].item() > 0.3
        # ... the semantic tasks share a cluster, the core 3D tasks share another one
        semantic = next(c for c in k3 if SEMANTIC <= c)
        assert CORE_3D <= next(c for c in k3 if "rgb2depth" in c)
        assert not semantic & CORE_3D
        assert curve["entropy"].iloc[0] == pytest.approx(curve["entropy"].max())

    # scale-free profiles recover 2D / 3D / semantic except curvature (clustered as 3D)
    colnorm = task_tree(variants["column-normalised"])
    k3 = _clusters(cut_tree(colnorm, 3), tasks)
    assert SEMANTIC in k3
    assert {"autoencoder", "edge2d", "keypoint2d", "segment2d"} in k3
    assert curves["column-normalised"].loc[2, "ari"] > 0.7  # row k = 3

    # the same trees from the pickle
    from_pickle = tx.load_affinity_pickle(taskonomy_dir / tx.AFFINITY_PICKLE_NAME)
    z_csv, z_pkl = task_tree(affinity_csv), task_tree(from_pickle)
    for k in range(1, 16):
        assert adjusted_rand_score(cut_tree(z_csv, k), cut_tree(z_pkl, k)) == pytest.approx(1.0)
