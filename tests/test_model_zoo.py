"""Bring-your-own model loaders: every format, the features/logits contract, clear errors.

The ``write_*`` builders are also used by the byo workflow test.
"""

from __future__ import annotations

import warnings

import pytest
import torch
import torchvision
from safetensors.torch import save_file
from torch import nn

from advtransfer.images import sources
from advtransfer.core import probes
from advtransfer.images import architectures

SHAPE = (3, 16, 16)


class TinyNet(nn.Module):
    """conv -> ReLU -> global average pool (features, k = 6) -> linear head."""

    def __init__(self, num_classes: int = 3) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(6, num_classes)

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.fc(self.body(x))


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():  # torch 2.9+ deprecation notices for TorchScript
        warnings.simplefilter("ignore", FutureWarning)
        return fn(*args, **kwargs)


def write_resnet18(path, *, num_classes: int = 5, seed: int = 0) -> nn.Module:
    """A random-weight torchvision resnet18 state dict (.pth via torch.save, or .safetensors)."""
    torch.manual_seed(seed)
    model = torchvision.models.resnet18(num_classes=num_classes).eval()
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if str(path).endswith(".safetensors"):
        save_file(state, str(path))
    else:
        torch.save(state, path)
    return model


def write_torchscript(path, *, seed: int = 0, with_features: bool = True) -> nn.Module:
    """A traced TinyNet, exporting `features` as a method when asked."""
    torch.manual_seed(seed)
    net = TinyNet().eval()
    x = torch.rand(2, *SHAPE)
    if with_features:
        traced = _quiet(torch.jit.trace_module, net, {"forward": x, "features": x})
    else:
        traced = _quiet(torch.jit.trace, net, x)
    _quiet(torch.jit.save, traced, str(path))
    return net


class TupleNet(nn.Module):
    """TinyNet whose forward returns (logits, features): the export convention."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x):
        feats = self.net.features(x)
        return self.net.fc(feats), feats


def write_export(path, *, seed: int = 0, with_features: bool = True) -> nn.Module:
    """A torch.export program (.pt2) of TinyNet with a dynamic batch dimension; forward
    returns (logits, features), or the logits alone used as features."""
    torch.manual_seed(seed)
    net = TinyNet().eval()
    module = TupleNet(net).eval() if with_features else net
    program = torch.export.export(module, (torch.rand(2, *SHAPE),),
                                  dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, str(path))
    return net


def write_digits_cnn(path, *, num_classes: int = 4, seed: int = 0, metadata: bool = True,
                     sidecar: bool = False) -> nn.Module:
    """digits_cnn weights as safetensors, with `arch` metadata and optionally the sidecar."""
    torch.manual_seed(seed)
    model = architectures.build_model("digits_cnn", num_classes, 3, [0.4, 0.5, 0.6],
                                      [0.2, 0.25, 0.3]).eval()
    if sidecar:
        architectures.save_model(model, path)
    else:
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(path), metadata={"arch": "digits_cnn"} if metadata else None)
    return model


def spec(name, fmt, file, **extra):
    return {"name": name, "format": fmt, "file": str(file), **extra}


def images(n=4, seed=1):
    return torch.rand((n, *SHAPE), generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------------------------------
# formats
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_torchvision_strips_the_final_linear(tmp_path, suffix):
    original = write_resnet18(tmp_path / f"r18{suffix}")
    model = sources.load_source(spec("r", "torchvision", tmp_path / f"r18{suffix}",
                                       arch="resnet18"), verify_shape=SHAPE)
    x = images()
    mean = torch.tensor(sources.IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(sources.IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = original((x - mean) / std)
        feats, logits = sources.features_and_logits(model, x, batch_size=3)
    assert feats.shape == (4, 512) and model.has_head
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(model(x), expected, rtol=1e-4, atol=1e-5)
    info = sources.describe_source(model, SHAPE)
    assert info == {"feature_dim": 512, "num_source_classes": 5,
                    "parameters": sum(p.numel() for p in original.parameters())}


def test_torchvision_normalisation_override(tmp_path):
    original = write_resnet18(tmp_path / "r.pth", num_classes=3)
    model = sources.load_source(spec("r", "torchvision", tmp_path / "r.pth", arch="resnet18",
                                       mean=[0.5] * 3, std=[0.5] * 3))
    x = images()
    with torch.no_grad():
        torch.testing.assert_close(model(x), original((x - 0.5) / 0.5), rtol=1e-4, atol=1e-5)


def test_torchscript_features_method(tmp_path):
    net = write_torchscript(tmp_path / "tiny.pt")
    model = sources.load_source(spec("t", "torchscript", tmp_path / "tiny.pt"),
                                  verify_shape=SHAPE)
    x = images()
    with torch.no_grad():
        feats, logits = sources.features_and_logits(model, x)
        torch.testing.assert_close(feats, net.features(x))
        torch.testing.assert_close(logits, net(x))
    assert sources.describe_source(model, SHAPE)["num_source_classes"] == 3
    # probes freeze it and restore every train flag
    model.train()
    assert probes.extract_features(model, x).shape == (4, 6)
    assert model.training


def test_torchscript_output_as_features(tmp_path):
    net = write_torchscript(tmp_path / "plain.pt", with_features=False)
    model = sources.load_source(spec("t", "torchscript", tmp_path / "plain.pt",
                                       features="output"), verify_shape=SHAPE)
    x = images()
    feats, logits = sources.features_and_logits(model, x)
    assert not model.has_head and logits is None
    with torch.no_grad():
        torch.testing.assert_close(feats, net(x))
    assert sources.describe_source(model, SHAPE)["num_source_classes"] == 0


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    nets = {"tuple": write_export(root / "tuple.pt2"),
            "plain": write_export(root / "plain.pt2", seed=1, with_features=False)}
    write_torchscript(root / "tiny.pt")
    return root, nets


def test_export_program_returning_logits_and_features(exported):
    root, nets = exported
    model = sources.load_source(spec("e", "export", root / "tuple.pt2"), verify_shape=SHAPE)
    x = images(n=5)  # another batch size than at export
    with torch.no_grad():
        feats, logits = sources.features_and_logits(model, x, batch_size=3)
        torch.testing.assert_close(feats, nets["tuple"].features(x))
        torch.testing.assert_close(logits, nets["tuple"](x))
    assert model.has_head and sources.describe_source(model, SHAPE)["num_source_classes"] == 3
    # gradients reach the input (PGD, Jacobians); train()/eval() leave the program alone
    model.train()
    xg = x.clone().requires_grad_(True)
    model(xg).sum().backward()
    assert xg.grad.abs().sum() > 0
    assert probes.extract_features(model.eval(), x).shape == (5, 6)


def test_export_program_output_as_features(exported):
    root, nets = exported
    model = sources.load_source(spec("e", "export", root / "plain.pt2", features="output"),
                                verify_shape=SHAPE)
    feats, logits = sources.features_and_logits(model, images())
    assert not model.has_head and logits is None
    with torch.no_grad():
        torch.testing.assert_close(feats, nets["plain"](images()))


def test_export_format_errors_name_the_fix(exported):
    root, _ = exported
    with pytest.raises(sources.ModelFileError, match="format: export"):
        sources.check_source_file(spec("e", "torchscript", root / "tuple.pt2"))
    with pytest.raises(sources.ModelFileError, match="format: torchscript"):
        sources.check_source_file(spec("e", "export", root / "tiny.pt"))
    with pytest.raises(sources.ModelFileError, match="features: output"):  # one output only
        sources.load_source(spec("e", "export", root / "plain.pt2"), verify_shape=SHAPE)


@pytest.mark.parametrize("variant", ["metadata", "explicit_arch", "sidecar"])
def test_safetensors_registered_architecture(tmp_path, variant):
    path = tmp_path / "d.safetensors"
    original = write_digits_cnn(path, metadata=variant == "metadata",
                                sidecar=variant == "sidecar")
    extra = {"arch": "digits_cnn"} if variant == "explicit_arch" else {}
    model = sources.load_source(spec("d", "safetensors", path, **extra), verify_shape=SHAPE)
    assert isinstance(model, architectures.DigitsCNN)
    x = images()
    with torch.no_grad():
        torch.testing.assert_close(model(x), original(x))
        torch.testing.assert_close(model.features(x), original.features(x))


# ---------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoo")
    write_resnet18(root / "r18.pth", num_classes=3)
    write_resnet18(root / "r18.safetensors", num_classes=3)
    write_torchscript(root / "tiny.pt")
    write_torchscript(root / "plain.pt", with_features=False)
    torch.save({"epoch": 3, "note": "no tensors"}, root / "meta.pth")
    (root / "empty.pt").write_bytes(b"")
    (root / "text.pth").write_text("hello")
    return root


BAD = [
    ("missing", spec("m", "torchvision", "{root}/nope.pth", arch="resnet18"),
     ["nope.pth", "not found"]),
    ("empty", spec("m", "torchscript", "{root}/empty.pt"), ["empty.pt", "empty"]),
    ("script_as_state_dict", spec("m", "torchvision", "{root}/tiny.pt", arch="resnet18"),
     ["tiny.pt", "format: torchscript"]),
    ("not_torch", spec("m", "torchvision", "{root}/text.pth", arch="resnet18"),
     ["text.pth", "torch.save(model.state_dict()"]),
    ("no_tensors", spec("m", "torchvision", "{root}/meta.pth", arch="resnet18"),
     ["meta.pth", "state dict of tensors"]),
    ("unknown_arch", spec("m", "torchvision", "{root}/r18.pth", arch="resnet_9000"),
     ["resnet_9000", "list_models"]),
    ("wrong_arch", spec("m", "torchvision", "{root}/r18.pth", arch="resnet34"),
     ["r18.pth", "resnet34", "missing tensors"]),
    ("not_a_script", spec("m", "torchscript", "{root}/r18.pth"),
     ["r18.pth", "not a TorchScript archive"]),
    ("no_features_method", spec("m", "torchscript", "{root}/plain.pt"),
     ["plain.pt", "features: output"]),
    ("safetensors_without_arch", spec("m", "safetensors", "{root}/r18.safetensors"),
     ["r18.safetensors", "digits_cnn"]),
    ("safetensors_wrong_arch", spec("m", "safetensors", "{root}/r18.safetensors",
                                    arch="digits_cnn"), ["r18.safetensors", "head.weight"]),
    ("pth_as_safetensors", spec("m", "safetensors", "{root}/r18.pth", arch="digits_cnn"),
     ["r18.pth", "not a safetensors file"]),
    ("unknown_format", spec("m", "onnx", "{root}/r18.pth"), ["onnx"]),
]


@pytest.mark.parametrize("case,bad,fragments", BAD, ids=[b[0] for b in BAD])
def test_bad_model_files_name_path_and_fix(files, case, bad, fragments):
    bad = {**bad, "file": bad["file"].format(root=files)}
    with pytest.raises(sources.ModelFileError) as err:
        sources.load_source(bad, verify_shape=SHAPE)
    for fragment in fragments:
        assert fragment in str(err.value), (case, str(err.value))


def test_file_checks_need_no_model_build(files):
    sources.check_source_file(spec("t", "torchscript", files / "tiny.pt"))
    with pytest.raises(sources.ModelFileError, match="not a TorchScript archive"):
        sources.check_source_file(spec("t", "torchscript", files / "r18.safetensors"))


def test_images_the_model_rejects(files):
    with pytest.raises(sources.ModelFileError, match=r"fails on images of shape \(1, 16, 16\)"):
        sources.load_source(spec("r", "torchvision", files / "r18.pth", arch="resnet18"),
                              verify_shape=(1, 16, 16))
