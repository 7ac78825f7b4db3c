"""Damaged input files and non-finite arrays stop with a message naming the file (or
argument) and the fix, before anything is written.

Each case writes a tiny corrupt file: a truncated or byte-flipped safetensors file, a CSV
with a blank or non-numeric label cell, a truncated or tampered pickle.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from advtransfer import io
from advtransfer.core import estimators, tau
from advtransfer.core.checks import check_finite

# ------------------------------------------------------------------ safetensors files


def _truncate(path: Path, keep: int | None = None) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 if keep is None else keep])


def _flip_header(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[12] ^= 0xFF  # inside the JSON header
    path.write_bytes(bytes(data))


DAMAGE = {"truncated": _truncate, "header_flipped": _flip_header,
          "empty": lambda p: _truncate(p, 0), "header_cut": lambda p: _truncate(p, 20)}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_load_tensors_names_a_damaged_file_and_the_fix(tmp_path, damage):
    path = tmp_path / "cache.safetensors"
    io.save_tensors(path, {"a": torch.arange(64.0)}, meta={"k": 1})
    DAMAGE[damage](path)
    before = path.read_bytes()
    for read in (io.load_tensors, io.load_tensor_meta):
        with pytest.raises(io.CorruptFileError) as info:
            read(path)
        message = str(info.value)
        assert str(path) in message and "truncated or corrupted" in message
        assert "delete it" in message and f"--force {path}" in message
    assert path.read_bytes() == before  # nothing rewritten or removed
    with pytest.raises(FileNotFoundError, match="does not exist"):
        io.load_tensors(tmp_path / "absent.safetensors")


def test_cached_image_set_damaged(tmp_path):
    from advtransfer.images import imagesets

    path = tmp_path / "set.safetensors"
    imagesets.save_imageset(path, {"x_test": np.zeros((4, 1, 2, 2), np.uint8),
                                   "y_test": np.arange(4)}, {"classes": ["a", "b"]})
    assert imagesets.load_meta(path)["classes"] == ["a", "b"]
    _truncate(path)
    for read in (imagesets.load_meta, lambda p: imagesets.load_split(p, "test"),
                 lambda p: imagesets.load_labels(p, "y", "test")):
        with pytest.raises(io.CorruptFileError, match="set.safetensors is truncated or corr"):
            read(path)


def test_trained_image_model_damaged(tmp_path):
    from advtransfer.images import architectures

    model = architectures.build_model("digits_cnn", 10, 1, [0.5], [0.2])
    path = tmp_path / "model.safetensors"
    architectures.save_model(model, path)
    _truncate(path)
    with pytest.raises(io.CorruptFileError, match=r"model\.safetensors is truncated.*--force"):
        architectures.load_model(path)


def test_task_model_and_task_data_damaged(tmp_path):
    from advtransfer.tasks import models as mt

    path = tmp_path / "data.safetensors"
    mt.save_task_data(path, torch.zeros(4, 1, 2, 2, dtype=torch.uint8), {},
                      {"test": torch.arange(4)}, {"tasks": []})
    assert mt.load_task_data(path).x.shape == (4, 1, 2, 2)
    _flip_header(path)
    with pytest.raises(io.CorruptFileError, match="data.safetensors is truncated or corr"):
        mt.load_task_data(path)
    from advtransfer.tasks.digits import TaskNet

    weights = tmp_path / "task.safetensors"
    model = TaskNet(5, image_size=10, width=3, feature_dim=6, mean=[0.2], std=[0.3])
    mt.save_task_model(model, weights, mt.TaskSpec("digit", "semantic", "ce", 5))
    _truncate(weights)
    with pytest.raises(io.CorruptFileError, match="task.safetensors is truncated or corr"):
        mt.load_task_model(weights)
    weights.with_suffix(".json").write_text('{"arch": ')  # a cut sidecar
    with pytest.raises(io.CorruptFileError, match="task.json is truncated or corrupted"):
        mt.load_task_model(weights)


def test_byo_candidate_damaged(tmp_path):
    from advtransfer.images import architectures, sources

    model = architectures.build_model("digits_cnn", 10, 1, [0.5], [0.2])
    path = tmp_path / "cand.safetensors"
    architectures.save_model(model, path)
    _truncate(path)
    for fmt in ("advtransfer", "safetensors"):
        spec = {"name": "cand", "format": fmt, "file": str(path), "arch": "digits_cnn"}
        for call in (sources.check_source_file, sources.load_source):
            with pytest.raises(sources.ModelFileError) as info:
                call(spec)
            message = str(info.value)
            assert message.startswith(f"model cand: {path} is truncated or corrupted")
            assert "replace it with a complete copy" in message


def test_byo_checker_collects_a_damaged_candidate(tmp_path):
    """The byo checker (scripts/byo/check_models.py) lists the damaged file among the bad
    candidates, with the others, instead of stopping at a raw SafetensorError."""
    from test_model_zoo import SHAPE, write_torchscript

    from advtransfer.byo import candidates
    from advtransfer.images import architectures, sources

    good = tmp_path / "good.pt"
    write_torchscript(good)
    bad = tmp_path / "bad.safetensors"
    architectures.save_model(architectures.build_model("digits_cnn", 10, 3, [0.5] * 3,
                                                       [0.2] * 3), bad)
    _truncate(bad)
    missing = tmp_path / "missing.pt"
    specs = {n: {"name": n, "format": f, "file": str(p)} for n, f, p in
             (("good", "torchscript", good), ("bad", "advtransfer", bad),
              ("missing", "torchscript", missing))}
    with pytest.raises(sources.ModelFileError) as info:
        candidates.check_candidates(specs, SHAPE, jacobian_points=2,
                                    attack={"batch_size": 2, "steps": 1, "n_images": 2})
    message = str(info.value)
    assert message.startswith("bad candidate model(s):")
    assert f"model bad: {bad} is truncated or corrupted" in message
    assert "model missing: file" in message and "model good" not in message


# ------------------------------------------------------------------ NLP label cells


def _nlp_spec(path: Path, loader: str = "csv") -> dict:
    return {"loader": loader, "train": str(path), "text_column": "text",
            "label_column": "label", "classes": None, "n_train": None, "n_val": 0,
            "n_test": 2, "seed": 0}


def _write_csv(path: Path, labels: list[str]) -> Path:
    path.write_text("text,label\n" + "".join(f"text {i},{v}\n" for i, v in enumerate(labels)))
    return path


@pytest.mark.parametrize("labels, row, complaint", [
    (["0", "1", "", "0", "1"], 4, "blank label"),
    (["0", "1", " ", "0", "1"], 4, "blank label"),
    (["0", "1", "x", "0", "1"], 4, "label 'x' is not an integer"),
    (["0", "1", "1.5", "0", "1"], 4, "label '1.5' is not an integer"),
    (["a", "b", "1", "a", "b"], 4, "label '1' is an integer, but other rows hold class"),
    (["0", "-1", "1", "0", "1"], 3, "label '-1' is negative"),
])
def test_bad_csv_label_cell_names_file_row_and_column(tmp_path, labels, row, complaint):
    from advtransfer.nlp import data

    path = _write_csv(tmp_path / "train.csv", labels)
    with pytest.raises(ValueError) as info:
        data.prepare_dataset("tiny", _nlp_spec(path))
    message = str(info.value)
    assert f"({path}), row {row} (counting the header as row 1), column 'label'" in message
    assert complaint in message and "Fix:" in message


def test_json_lines_missing_or_null_label(tmp_path):
    from advtransfer.nlp import data

    path = tmp_path / "train.jsonl"
    path.write_text('{"text": "a", "label": 1}\n{"text": "b", "label": null}\n'
                    '{"text": "c", "label": 0}\n{"text": "d"}\n')
    with pytest.raises(ValueError, match=r"record 2, column 'label': blank label \(2 blank"):
        data.prepare_dataset("tiny", _nlp_spec(path, "json"))


def test_integer_train_and_named_test_labels_are_refused(tmp_path):
    from advtransfer.nlp import data

    train = _write_csv(tmp_path / "train.csv", ["0", "1", "0", "1"])
    test = _write_csv(tmp_path / "test.csv", ["neg", "pos"])
    with pytest.raises(ValueError, match="integer labels in .*train.csv but class names in "
                                         ".*test.csv"):
        data.prepare_dataset("tiny", {**_nlp_spec(train), "test": str(test)})


def test_good_csv_labels_still_load(tmp_path):
    from advtransfer.nlp import data

    path = _write_csv(tmp_path / "train.csv", ["0", "1", "0", "1", "1", "0"])
    frame, meta = data.prepare_dataset("tiny", _nlp_spec(path))
    assert meta["classes"] == ["0", "1"] and sorted(set(frame["label"])) == [0, 1]


# ------------------------------------------------------------------ restricted pickles


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_cifar_batch_truncated_and_tampered_name_the_file(tmp_path):
    from fakes import write_fake_cifar10

    from advtransfer.images.datasets import load_cifar10

    write_fake_cifar10(tmp_path, n_per_batch=3)
    batch = tmp_path / "cifar-10-batches-py" / "test_batch"
    good = batch.read_bytes()
    batch.write_bytes(good[:-7])
    with pytest.raises(io.CorruptFileError) as info:
        load_cifar10(tmp_path, "test")
    assert str(info.value).startswith(f"{batch} is truncated: not a valid CIFAR-10 batch")
    assert "download CIFAR-10 again" in str(info.value)
    batch.write_bytes(pickle.dumps({"data": _Evil()}, protocol=2))
    with pytest.raises(pickle.UnpicklingError) as info:
        load_cifar10(tmp_path, "test")
    assert str(info.value).startswith(f"{batch}: refusing to load global")
    assert "not a genuine CIFAR-10 batch pickle" in str(info.value)
    batch.write_bytes(b"\x80\x02\xffjunk")  # an invalid opcode
    with pytest.raises(io.CorruptFileError, match=f"{batch.name} is corrupted: not a valid"):
        load_cifar10(tmp_path, "test")


def test_taskonomy_affinity_pickle_truncated_and_tampered(tmp_path):
    from advtransfer.tasks import taskonomy as tx

    path = tmp_path / "all_affinities.pkl"
    good = pickle.dumps({f"a{i}__b": float(i) for i in range(20)}, protocol=4)
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(io.CorruptFileError) as info:
        tx.read_affinity_pickle(path)
    assert str(info.value).startswith(f"{path} is truncated: not a valid Taskonomy affinity")
    assert "github.com/StanfordVL/taskonomy" in str(info.value)
    path.write_bytes(pickle.dumps({"a__b": _Evil()}, protocol=4))
    with pytest.raises(pickle.UnpicklingError, match=f"^{path}: global builtins.print is not"):
        tx.read_affinity_pickle(path)


def test_insightface_bin_truncated_and_tampered(tmp_path):
    from advtransfer.attributes.verification import read_bin

    path = tmp_path / "lfw.bin"
    good = pickle.dumps(([b"ab" * 50, b"cd" * 50], [True]), protocol=2)
    path.write_bytes(good[:-30])
    with pytest.raises(io.CorruptFileError) as info:
        read_bin(path)
    assert str(info.value).startswith(f"{path} is truncated: not a valid insightface .bin")
    path.write_bytes(pickle.dumps(([b"x", b"y"], [_Evil()]), protocol=2))
    with pytest.raises(pickle.UnpicklingError, match=f"^{path}: refusing to load global"):
        read_bin(path)


# ------------------------------------------------------------------ non-finite arrays


def test_check_finite_names_the_argument_count_and_first_entry():
    assert check_finite(np.ones(3), "x") is not None
    assert check_finite(torch.arange(3), "x") is not None  # integers are always finite
    with pytest.raises(ValueError, match=r"^jac contains 2 NaN or infinite value\(s\) "
                                         r"\(first: nan at index \(0, 1\)\)"):
        check_finite(torch.tensor([[1.0, float("nan")], [float("inf"), 0.0]]), "jac")
    with pytest.raises(ValueError, match=r"^f contains 1 NaN .*first: -inf at index \(2,\)"):
        check_finite(np.array([0.0, 1.0, -np.inf]), "f")


def test_adversarial_transferability_rejects_non_finite_jacobians():
    jac = torch.randn(4, 3, 5, generator=torch.Generator().manual_seed(0))
    assert 0 <= float(tau.adversarial_transferability(jac, jac)["tau1"]) <= 1 + 1e-6
    bad = jac.clone()
    bad[1, 2, 3] = float("nan")
    with pytest.raises(ValueError, match=r"^jac_target contains 1 NaN .*index \(1, 2, 3\)"):
        tau.adversarial_transferability(jac, bad)
    with pytest.raises(ValueError, match="^jac_source contains"):
        tau.adversarial_transferability(bad * float("inf"), jac)


def test_input_jacobians_of_a_nan_model_are_refused():
    class Sqrt(nn.Module):
        def forward(self, x):
            return torch.sqrt(x).sum(1, keepdim=True)

    x = torch.tensor([[1.0, 4.0], [-1.0, 1.0]])
    with pytest.raises(ValueError, match=r"^input_jacobians\(model, x\) contains"):
        tau.input_jacobians(Sqrt(), x)


@pytest.mark.parametrize("call", [
    lambda f, y: estimators.h_score(f, y),
    lambda f, y: estimators.transrate(f, y),
    lambda f, y: estimators.log_me(f, y),
    lambda f, y: estimators.gbc(f, y),
    lambda f, y: estimators.knn_accuracy(f, y),
])
def test_estimators_reject_non_finite_features(call):
    gen = np.random.default_rng(0)
    f = gen.normal(size=(12, 3))
    y = np.arange(12) % 2
    call(f, y)
    f[5, 1] = np.nan
    with pytest.raises(ValueError, match=r"features contains 1 NaN .*index \(5, 1\)"):
        call(f, y)


def test_log_me_rejects_non_finite_regression_targets():
    gen = np.random.default_rng(0)
    targets = gen.normal(size=12)
    targets[3] = np.inf
    with pytest.raises(ValueError, match=r"^targets contains 1 NaN or infinite"):
        estimators.linear_model_log_evidence(gen.normal(size=(12, 3)), targets, 1.0, 1.0)
