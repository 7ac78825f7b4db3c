"""ArcFace head and focal loss: closed-form logits on hand-set weights, finite gradients."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from advtransfer.images.arcface import ArcFaceHead, additive_angular_margin, focal_loss
from advtransfer.images.architectures import build_model, load_model, save_model
from advtransfer.images.training import train_classifier


def _unit(angle: float) -> list[float]:
    return [math.cos(angle), math.sin(angle)]


def _hand_head(scale: float = 10.0, margin: float = 0.3) -> ArcFaceHead:
    head = ArcFaceHead(2, 3, scale=scale, margin=margin)
    with torch.no_grad():  # class centres at 0, 90 and 200 degrees, different norms
        head.weight.copy_(torch.tensor(
            [[2.0, 0.0], [0.0, 0.5], [3 * math.cos(3.49), 3 * math.sin(3.49)]]
        ))
    return head


def test_logits_are_scaled_cosines_with_margin_at_the_label():
    s, m = 10.0, 0.3
    head = _hand_head(s, m)
    feature_angles = [0.4, 1.2, 2.0]
    features = torch.tensor(
        [[r * c for c in _unit(a)] for r, a in zip((1.0, 5.0, 0.2), feature_angles)]
    )
    labels = torch.tensor([0, 1, 2])
    centre_angles = [0.0, math.pi / 2, 3.49]
    theta = torch.tensor([[abs(math.remainder(a - c, 2 * math.pi)) for c in centre_angles]
                          for a in feature_angles])
    with torch.no_grad():
        plain = head(features)
        margin = head(features, labels)
    torch.testing.assert_close(plain, s * torch.cos(theta), atol=1e-5, rtol=0)
    expected = s * torch.cos(theta)
    for i, y in enumerate(labels.tolist()):
        assert theta[i, y] + m < math.pi
        expected[i, y] = s * math.cos(theta[i, y] + m)
    torch.testing.assert_close(margin, expected, atol=1e-5, rtol=0)


def test_margin_past_pi_uses_the_monotone_continuation():
    m = 0.5
    cos = torch.tensor([[math.cos(math.pi - 0.1), 0.2]])  # theta + m > pi
    out = additive_angular_margin(cos, torch.tensor([0]), m)
    assert out[0, 0].item() == pytest.approx(cos[0, 0].item() - m * math.sin(m), abs=1e-6)
    assert out[0, 1].item() == pytest.approx(0.2)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_no_nan_gradients_at_cos_plus_minus_one(sign):
    head = ArcFaceHead(3, 2, scale=64.0, margin=0.5)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[1.0, 2.0, -1.0], [0.5, 0.0, 1.0]]))
    features = (sign * head.weight[:1].detach().clone() * 3.0).repeat(2, 1).requires_grad_(True)
    labels = torch.tensor([0, 1])
    cos = head.cosine(features)
    assert cos[0, 0].item() == pytest.approx(sign, abs=1e-6)
    logits = head(features, labels)
    loss = F.cross_entropy(logits, labels) + focal_loss(logits, labels)
    loss.backward()
    assert torch.isfinite(features.grad).all() and torch.isfinite(head.weight.grad).all()
    raw = torch.tensor([[sign, 0.0]], requires_grad=True)
    additive_angular_margin(raw, torch.tensor([0]), 0.5).sum().backward()
    assert torch.isfinite(raw.grad).all()


def test_focal_loss_closed_form():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    target = torch.tensor([0, 2])
    p = torch.softmax(logits, 1)[torch.arange(2), target]
    expected = (-(1 - p) ** 2 * torch.log(p)).mean()
    torch.testing.assert_close(focal_loss(logits, target, gamma=2.0), expected)
    torch.testing.assert_close(focal_loss(logits, target, gamma=0.0),
                               F.cross_entropy(logits, target))
    with pytest.raises(ValueError, match="gamma"):
        focal_loss(logits, target, gamma=-1.0)


@pytest.mark.parametrize("kwargs,match", [
    (dict(scale=0.0), "scale"), (dict(margin=2.0), "margin"), (dict(margin=-0.1), "margin"),
])
def test_bad_head_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ArcFaceHead(4, 3, **kwargs)


def test_arcface_classifier_trains_saves_and_loads(tmp_path):
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(120) % 2
    x = 0.5 * torch.rand(120, 1, 8, 8, generator=gen)
    x[y == 1, :, :4] += 0.5  # class 1: bright top half
    torch.manual_seed(0)
    model = build_model("digits_cnn", 2, 1, [0.5], [0.3], head="arcface",
                        head_options={"scale": 16.0, "margin": 0.2})
    model, history = train_classifier(model, (x[:90], y[:90]), (x[90:], y[90:]), epochs=8,
                                      batch_size=30, optimizer="adam", lr=0.01, seed=0,
                                      criterion="focal", focal_gamma=2.0, progress=False)
    assert history["best_val_accuracy"] > 0.7
    path = tmp_path / "ref.safetensors"
    save_model(model, path, {"seed": 0})
    loaded, meta = load_model(path)
    assert meta["head"] == "arcface" and meta["head_options"] == {"scale": 16.0, "margin": 0.2}
    with torch.no_grad():
        torch.testing.assert_close(loaded(x[:5]), model(x[:5]))
        assert loaded(x[:5]).abs().max() <= 16.0 + 1e-4
    with pytest.raises(ValueError, match="unknown head"):
        build_model("digits_cnn", 2, 1, [0.5], [0.3], head="cosface")
    with pytest.raises(ValueError, match="no head_options"):
        build_model("digits_cnn", 2, 1, [0.5], [0.3], head_options={"scale": 2.0})
