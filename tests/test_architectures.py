"""Tests for advtransfer.images.architectures: registry shapes, save/load, load errors."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from advtransfer.images.architectures import (
    Classifier,
    available_architectures,
    build_model,
    load_model,
    save_model,
    sidecar_path,
)

# (arch, in_channels, image side, feature width)
CASES = [
    ("digits_cnn", 1, 8, 64),
    ("resnet18_cifar", 3, 32, 512),
    ("resnet18_torchvision", 3, 32, 512),
    # the model zoo's families (FAMILIES)
    ("digits_mlp_s", 1, 8, 32),
    ("digits_mlp_l", 1, 8, 256),
    ("digits_cnn_s", 1, 8, 16),
    ("digits_resnet_s", 1, 8, 8),
    ("digits_resnet_l", 1, 8, 48),
]


@pytest.fixture(autouse=True)
def _one_thread():
    """Two busy cores: one intra-op thread is much faster for these tiny workloads."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _build(arch: str, in_channels: int, num_classes: int = 5) -> Classifier:
    torch.manual_seed(0)
    return build_model(arch, num_classes, in_channels, [0.4] * in_channels, [0.2] * in_channels)


def test_registry_lists_all_architectures():
    assert available_architectures() == sorted(a for a, *_ in CASES)


@pytest.mark.parametrize("arch,in_channels,side,k", CASES)
def test_shapes_and_interface(arch, in_channels, side, k):
    model = _build(arch, in_channels).eval()
    x = torch.rand(2, in_channels, side, side)
    with torch.no_grad():
        feats = model.features(x)
        logits = model(x)
    assert isinstance(model, Classifier) and isinstance(model, nn.Module)
    assert feats.shape == (2, k) and model.feature_dim == k
    assert logits.shape == (2, 5)
    assert isinstance(model.head, nn.Linear)
    assert (model.head.in_features, model.head.out_features) == (k, 5)
    torch.testing.assert_close(logits, model.head(feats))


def test_normalisation_lives_inside_the_model():
    model = build_model("digits_cnn", 10, 1, [0.25], [0.5])
    assert {"mean", "std"} <= set(model.state_dict())
    x = torch.rand(3, 1, 8, 8)
    torch.testing.assert_close(model.normalize(x), (x - 0.25) / 0.5)
    with pytest.raises(ValueError, match="expected input of shape"):
        model(torch.rand(3, 3, 8, 8))


def test_digits_cnn_is_small():
    n_params = sum(p.numel() for p in _build("digits_cnn", 1).parameters())
    assert n_params < 50_000


def test_resnet18_cifar_has_cifar_stem():
    model = _build("resnet18_cifar", 3)
    stem_conv = model.stem[0]
    assert stem_conv.kernel_size == (3, 3) and stem_conv.stride == (1, 1)
    assert not any(isinstance(m, nn.MaxPool2d) for m in model.modules())
    n_params = sum(p.numel() for p in model.parameters())
    assert 11_000_000 < n_params < 11_300_000  # ResNet-18 on CIFAR: about 11.2 M


def test_torchvision_variant_accepts_other_channel_counts():
    model = _build("resnet18_torchvision", 1).eval()
    with torch.no_grad():
        assert model(torch.rand(2, 1, 32, 32)).shape == (2, 5)


def test_unknown_arch_lists_known_ones():
    with pytest.raises(ValueError, match="digits_cnn.*resnet18_cifar"):
        build_model("vgg16", 10, 3, [0.5] * 3, [0.2] * 3)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(num_classes=0), "num_classes"),
        (dict(in_channels=0), "in_channels"),
        (dict(mean=[0.5, 0.5]), "one value per channel"),
        (dict(std=[0.0]), "std must be"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    args = dict(arch="digits_cnn", num_classes=10, in_channels=1, mean=[0.5], std=[0.2])
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        build_model(**args)


@pytest.mark.parametrize("arch,in_channels,side", [("digits_cnn", 1, 8), ("resnet18_cifar", 3, 32)])
def test_save_load_round_trip(tmp_path, arch, in_channels, side):
    model = _build(arch, in_channels)
    # move BatchNorm running statistics away from their initial values
    model.train()
    with torch.no_grad():
        model(torch.rand(4, in_channels, side, side))
    model.eval()
    path = tmp_path / "sub" / "model.safetensors"
    save_model(model, path, {"seed": 3, "history": {"val_accuracy": [0.5, 0.7]}})
    assert path.is_file() and sidecar_path(path) == tmp_path / "sub" / "model.json"
    sidecar = json.loads(sidecar_path(path).read_text())
    assert sidecar["arch"] == arch and sidecar["num_classes"] == 5
    assert sidecar["in_channels"] == in_channels and sidecar["seed"] == 3

    loaded, meta = load_model(path)
    assert not loaded.training
    assert meta["history"] == {"val_accuracy": [0.5, 0.7]}
    x = torch.rand(2, in_channels, side, side)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_weights_file_is_safetensors_not_pickle(tmp_path):
    from safetensors import safe_open

    path = tmp_path / "m.safetensors"
    save_model(_build("digits_cnn", 1), path, {})
    with safe_open(str(path), framework="pt") as fh:
        assert "head.weight" in set(fh.keys())
    assert not path.read_bytes().startswith(b"\x80")  # no pickle protocol header


def test_load_missing_sidecar(tmp_path):
    path = tmp_path / "m.safetensors"
    save_model(_build("digits_cnn", 1), path, {})
    sidecar_path(path).unlink()
    with pytest.raises(ValueError, match="sidecar.*m.json.*missing"):
        load_model(path)


def test_load_missing_weights(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.safetensors"):
        load_model(tmp_path / "nothing.safetensors")


def test_load_shape_mismatch_names_file_and_tensor(tmp_path):
    path = tmp_path / "m.safetensors"
    save_model(_build("digits_cnn", 1, num_classes=10), path, {})
    side = sidecar_path(path)
    meta = json.loads(side.read_text())
    meta["num_classes"] = 4
    side.write_text(json.dumps(meta))
    with pytest.raises(ValueError) as err:
        load_model(path)
    message = str(err.value)
    assert str(path) in message and "head.weight" in message and "(10, 64)" in message


def test_load_wrong_arch_reports_missing_tensors(tmp_path):
    path = tmp_path / "m.safetensors"
    save_model(_build("digits_cnn", 3), path, {})
    side = sidecar_path(path)
    meta = json.loads(side.read_text())
    meta["arch"] = "resnet18_cifar"
    side.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="missing tensors"):
        load_model(path)


def test_load_unknown_arch(tmp_path):
    path = tmp_path / "m.safetensors"
    save_model(_build("digits_cnn", 1), path, {})
    side = sidecar_path(path)
    meta = json.loads(side.read_text())
    meta["arch"] = "transformer"
    side.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="unknown architecture 'transformer'"):
        load_model(path)


def test_save_rejects_contradicting_or_unserialisable_meta(tmp_path):
    model = _build("digits_cnn", 1)
    with pytest.raises(ValueError, match="contradicts"):
        save_model(model, tmp_path / "a.safetensors", {"num_classes": 3})
    with pytest.raises(ValueError, match="JSON"):
        save_model(model, tmp_path / "b.safetensors", {"x": object()})
    assert list(tmp_path.iterdir()) == []
    # agreeing values (list or tuple) are fine
    save_model(model, tmp_path / "c.safetensors", {"mean": (0.4,), "arch": "digits_cnn"})
    assert load_model(tmp_path / "c.safetensors")[1]["mean"] == [0.4]
