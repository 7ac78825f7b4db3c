"""Tests of advtransfer.tasks.taskbank: task-bank architecture, weight import, images."""

from __future__ import annotations

import collections
import pickle

import numpy as np
import pytest
import torch

from advtransfer.tasks import models as mt
from advtransfer.tasks import taskbank as tb
from advtransfer.tasks.taskonomy import TASKONOMY_15


def test_task_table_covers_the_paper_tasks():
    specs = tb.taskbank_tasks()
    assert [s.name for s in specs] == list(TASKONOMY_15)
    assert collections.Counter(s.category for s in specs) == {"2D": 5, "3D": 7, "semantic": 3}
    by_name = {s.name: s for s in specs}
    assert by_name["segmentsemantic"].loss == "ce" and by_name["class_1000"].out_dim == 1000
    assert tb.taskbank_tasks(["edge2d"], {"edge2d": "mse"})[0].loss == "mse"
    with pytest.raises(ValueError, match="unknown"):
        tb.taskbank_tasks(["jigsaw"])
    with pytest.raises(ValueError, match="not in use"):
        tb.taskbank_tasks(["edge2d"], {"rgb2depth": "mse"})


@pytest.mark.parametrize("channels, decoder, tanh", [(1, "conv", True), (17, "conv", False),
                                                     (10, "mlp", True)])
def test_tiny_taskbank_shapes_and_range(channels, decoder, tanh):
    torch.manual_seed(0)
    model = tb.TaskBankNet(channels, decoder, tanh, width=4, image_size=32).eval()
    x = torch.rand(2, 3, 32, 32)
    z = model.features(x)
    assert z.shape == (2, 8, 2, 2)
    out = model(x)
    assert out.shape == ((2, channels, 32, 32) if decoder == "conv" else (2, channels))
    if decoder == "conv" and tanh:
        assert out.abs().max() <= 1
    with pytest.raises(ValueError, match="expected"):
        model(torch.rand(2, 3, 16, 16))


def test_public_architecture_has_the_task_bank_layout():
    """Key names / shapes of the public weights (visualpriors 0.3.5 TaskonomyEncoder)."""
    enc = tb.TaskBankEncoder(64).state_dict()
    assert len(enc) == 324
    assert enc["conv1.weight"].shape == (64, 3, 7, 7)
    assert enc["layer1.0.downsample.0.weight"].shape == (256, 64, 1, 1)
    assert "layer1.2.downsample.0.weight" not in enc  # stride-2 shortcut is a max-pool
    assert enc["compress1.weight"].shape == (8, 2048, 3, 3)
    dec = tb.TaskBankDecoder(1, "conv", True, 64, 16).state_dict()
    assert dec["conv2.0.weight"].shape == (1024, 8, 3, 3)
    assert dec["deconv14.1.weight"].shape == (32, 16, 3, 3)
    assert dec["decoder_output.0.weight"].shape == (1, 16, 3, 3)
    mlp = tb.TaskBankDecoder(1000, "mlp", True, 64, 16).state_dict()
    assert list(mlp) == ["fc0.weight", "bn0.weight", "bn0.bias", "bn0.running_mean",
                         "bn0.running_var", "bn0.num_batches_tracked", "fc2.weight", "fc2.bias"]
    assert mlp["fc0.weight"].shape == (2048, 2048)


def test_matches_visualpriors_when_installed():
    vp = pytest.importorskip("visualpriors.taskonomy_network",
                             reason="visualpriors is not a dependency; install it to compare")
    torch.manual_seed(0)
    ref = vp.TaskonomyNetwork(out_channels=2, is_decoder_mlp=False, apply_tanh=True).eval()
    ours = tb.TaskBankNet(2, "conv", True, 64, 64).eval()
    ours.encoder.load_state_dict(ref.encoder.state_dict())
    ours.decoder.load_state_dict(ref.decoder.state_dict())
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(ref(2 * x - 1), ours(x), atol=1e-6)


def write_fake_weights(directory, task, width=4, image_size=32, seed=0):
    """Tiny random task-bank weights in the public on-disk format ({'state_dict': ...})."""
    name, channels, decoder, tanh, _ = tb.TASKBANK_TABLE[task]
    torch.manual_seed(seed)
    model = tb.TaskBankNet(channels, decoder, tanh, width, image_size)
    directory.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": model.encoder.state_dict()}, directory / f"{name}_encoder-fake.pth")
    torch.save({"state_dict": model.decoder.state_dict()}, directory / f"{name}_decoder-fake.pth")
    return model


def test_import_round_trip(tmp_path):
    model = write_fake_weights(tmp_path, "class_1000")
    files = tb.weight_files(tmp_path, "class_1000")
    spec = tb.taskbank_tasks(["class_1000"])[0]
    built = tb.build_taskbank_model(spec, tb.read_state_dict(files["encoder"]),
                                    tb.read_state_dict(files["decoder"]), width=4, image_size=32)
    mt.save_task_model(built, tmp_path / "m.safetensors", spec)
    loaded, spec2, _ = mt.load_task_model(tmp_path / "m.safetensors")
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model.eval()(x), loaded(x))
    assert spec2 == spec
    with pytest.raises(ValueError, match="width 8"):
        tb.build_taskbank_model(spec, tb.read_state_dict(files["encoder"]),
                                tb.read_state_dict(files["decoder"]), width=8, image_size=32)


def test_missing_weights_are_named(tmp_path):
    write_fake_weights(tmp_path, "rgb2depth")
    assert tb.missing_weights_message(tmp_path, ["rgb2depth"]) is None
    message = tb.missing_weights_message(tmp_path, ["rgb2depth", "edge2d"])
    assert str(tmp_path / "edge_texture_encoder*.pth") in message
    assert str(tmp_path / "edge_texture_decoder*.pth") in message
    assert "visualpriors" in message and "depth_zbuffer" not in message


class _Payload:
    def __reduce__(self):
        return (print, ("pwned",))


def test_read_state_dict_refuses_pickled_objects(tmp_path):
    path = tmp_path / "evil.pth"
    with path.open("wb") as fh:
        pickle.dump({"state_dict": {"w": _Payload()}}, fh, protocol=2)
    with pytest.raises(ValueError, match="weights-only"):
        tb.read_state_dict(path)
    torch.save({"w": torch.ones(2)}, tmp_path / "bare.pth")
    assert torch.equal(tb.read_state_dict(tmp_path / "bare.pth")["w"], torch.ones(2))


def write_fake_images(directory, n, seed=0):
    from PIL import Image

    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        array = rng.integers(0, 256, size=(40 + 4 * i, 48, 3), dtype=np.uint8)
        Image.fromarray(array).save(directory / f"point_{i}_rgb.png")


def test_images_are_sampled_resized_and_cropped(tmp_path):
    write_fake_images(tmp_path, 5)
    (tmp_path / "notes.txt").write_text("not an image")
    files = tb.select_images(tmp_path, 3, seed=0)
    assert files == tb.select_images(tmp_path, 3, seed=0) and len(files) == 3
    x = tb.load_images(files, 32)
    assert x.shape == (3, 3, 32, 32) and x.dtype == torch.uint8
    with pytest.raises(FileNotFoundError, match="need 9 images"):
        tb.select_images(tmp_path, 9, seed=0)
