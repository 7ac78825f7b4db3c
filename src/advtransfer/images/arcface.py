"""ArcFace head and focal loss for the face-recognition reference model (docs/method.md §9.3).

Reference: Liang et al., §4.3 -- the recognition model is a ResNet-18 with an ArcFace head
trained with focal loss. ArcFace: Deng et al., "ArcFace: Additive Angular Margin Loss for
Deep Face Recognition", CVPR 2019. Focal loss: Lin et al., "Focal Loss for Dense Object
Detection", ICCV 2017.

With features f and class weights W_j, cos(theta_j) = <f/||f||, W_j/||W_j||>. The head's
logits are

    training (labels y known):  z_y = s cos(theta_y + m),   z_j = s cos(theta_j)  (j != y)
    inference (no labels):      z_j = s cos(theta_j)

so the model's ``forward`` (and therefore attacks, Jacobians and evaluation) sees the plain
scaled cosines, and only training adds the margin. Where theta_y + m would pass pi,
cos(theta + m) stops decreasing in theta; there the logit becomes
``cos(theta_y) - m sin(m)`` (the linear continuation used by insightface), which keeps
the target logit monotone in theta_y.

Everything here is pure: tensors in, tensors out.
"""

from __future__ import annotations

import math
from numbers import Real

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ArcFaceHead", "additive_angular_margin", "focal_loss"]

#: Lower bound of 1 - cos^2 inside the square root: keeps d sin / d cos finite at cos = +-1.
_SIN2_FLOOR = 1e-9


def _check_margin_scale(scale: float, margin: float) -> None:
    if isinstance(scale, bool) or not isinstance(scale, Real) or not math.isfinite(scale):
        raise ValueError(f"scale must be a finite number, got {scale!r}")
    if scale <= 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    if isinstance(margin, bool) or not isinstance(margin, Real) or not math.isfinite(margin):
        raise ValueError(f"margin must be a finite number, got {margin!r}")
    if not 0 <= margin < math.pi / 2:
        raise ValueError(f"margin is an angle in radians and must lie in [0, pi/2), got {margin}")


def additive_angular_margin(cosine: Tensor, labels: Tensor, margin: float) -> Tensor:
    r"""Replace cos(theta_y) by cos(theta_y + m) at each sample's label (ArcFace).

    Formula::

        cos(theta + m) = cos(theta) cos(m) - sin(theta) sin(m),
        sin(theta)     = sqrt(max(1 - cos^2(theta), 1e-9))     (theta in [0, pi])
        where theta > pi - m:  cos(theta) - m sin(m)           (monotone continuation)

    Only the label column is changed; the other columns are returned as they are.
    ``cosine`` is clamped to [-1, 1] first. The floor under the square root makes the
    gradient finite (zero) at cos = +-1, where d sqrt(1 - c^2)/dc would be infinite.

    Args:
        cosine: cos(theta_j) per sample and class, values in [-1, 1].
        labels: class index per sample.
        margin: additive angular margin m in radians, 0 <= m < pi/2.

    Shape:
        cosine: (N, K); labels: (N,); output: (N, K).

    Returns:
        The cosines with the margin applied at the labels.

    Raises:
        ValueError: bad shapes, labels out of range, bad margin.
    """
    _check_margin_scale(1.0, margin)
    if cosine.dim() != 2:
        raise ValueError(f"cosine must have shape (N, K), got {tuple(cosine.shape)}")
    if labels.dim() != 1 or labels.shape[0] != cosine.shape[0]:
        raise ValueError(
            f"labels must have shape ({cosine.shape[0]},), got {tuple(labels.shape)}"
        )
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise ValueError(f"labels must hold integer class indices, got dtype {labels.dtype}")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= cosine.shape[1]):
        raise ValueError(f"labels must lie in 0..{cosine.shape[1] - 1}")
    index = labels.long().unsqueeze(1)
    cos_y = cosine.gather(1, index).clamp(-1.0, 1.0)
    sin_y = (1.0 - cos_y * cos_y).clamp_min(_SIN2_FLOOR).sqrt()
    phi = cos_y * math.cos(margin) - sin_y * math.sin(margin)
    # theta + m > pi  <=>  cos(theta) < cos(pi - m)
    phi = torch.where(cos_y > math.cos(math.pi - margin), phi, cos_y - margin * math.sin(margin))
    return cosine.scatter(1, index, phi)


class ArcFaceHead(nn.Module):
    """Additive angular margin head: scaled cosines to class centres, margin in training.

    Paper: Deng et al. (2019); used as the recognition head in Liang et al. §4.3.

    Args:
        in_features: feature width k.
        out_features: number of classes K.
        scale: logit scale s > 0 (insightface default 64).
        margin: additive angular margin m in radians (insightface default 0.5).

    Shape:
        features: (N, k); labels: (N,); output: (N, K) logits.
    """

    def __init__(
        self, in_features: int, out_features: int, scale: float = 64.0, margin: float = 0.5
    ) -> None:
        super().__init__()
        _check_margin_scale(scale, margin)
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.scale = float(scale)
        self.margin = float(margin)
        self.weight = nn.Parameter(torch.empty(self.out_features, self.in_features))
        nn.init.normal_(self.weight, std=0.01)

    def cosine(self, features: Tensor) -> Tensor:
        """cos(theta_j) between each feature vector and each class weight, (N, K)."""
        return F.linear(F.normalize(features, dim=1), F.normalize(self.weight, dim=1))

    def forward(self, features: Tensor, labels: Tensor | None = None) -> Tensor:
        """``s cos(theta_j)``; with ``labels``, ``s cos(theta_y + m)`` at each label."""
        cosine = self.cosine(features)
        if labels is not None:
            cosine = additive_angular_margin(cosine, labels, self.margin)
        return self.scale * cosine

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"scale={self.scale}, margin={self.margin}"
        )


def focal_loss(logits: Tensor, target: Tensor, gamma: float = 2.0) -> Tensor:
    r"""Mean focal loss over a batch (Lin et al., 2017).

    Formula::

        p_t  = softmax(z)_y
        FL   = -(1 - p_t)^gamma log p_t           (gamma = 0: cross-entropy)

    Args:
        logits: (N, K) logits (for ArcFace, the margin logits).
        target: (N,) class indices.
        gamma: focusing parameter, >= 0.

    Returns:
        Scalar mean loss.

    Raises:
        ValueError: negative or non-finite gamma.
    """
    if isinstance(gamma, bool) or not isinstance(gamma, Real) or not math.isfinite(gamma):
        raise ValueError(f"gamma must be a finite number, got {gamma!r}")
    if gamma < 0:
        raise ValueError(f"gamma must be >= 0, got {gamma}")
    log_p = -F.cross_entropy(logits, target, reduction="none")
    if gamma == 0:
        return -log_p.mean()
    p = log_p.exp()
    return (-((1.0 - p).clamp_min(0.0) ** gamma) * log_p).mean()
