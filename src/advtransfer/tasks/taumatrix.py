"""Task matrix by first-order adversarial transferability: tau1 / tau2 between task models.

The ATM of the paper (:mod:`advtransfer.tasks.graph`) ranks sources by attack losses. This
is its first-order counterpart (Liang et al. Def. 2-3; docs/method.md §3): for every pair
of task models on the same images, ``tau1`` (alignment of the top right-singular vectors of
the input Jacobians) and ``tau2`` (how well an affine map of the source's output deviation
explains the target's) of their *dense* outputs, a whole output map per image. The
matrix-free path (:func:`advtransfer.core.matrixfree.transferability_matrix_matrix_free`)
never forms a Jacobian, so ``d`` = an output map is fine.

Output map per task: classification tasks (``ce``, ``kl``) use their logits centred over the
class axis (softmax ignores ``logits + c 1`` at every pixel, so the measures must too);
regression tasks (``mse``, ``l1``) their raw outputs.

Table (wide, like ``atm.tsv`` with ``measure`` in place of ``eps``): ``measure`` (``tau1``,
``tau2``, ``alpha``, ``n_not_converged``), ``target``, then one column per source. Rows =
targets, columns = sources; the diagonal is each model with itself (1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from torch import Tensor, nn

from advtransfer.core.matrixfree import transferability_matrix_matrix_free

__all__ = ["TAU_MEASURES", "TaskOutput", "tau_matrix_table"]

#: Measures of the tau task matrix that are clustered into trees (rows of entropy.tsv).
TAU_MEASURES: tuple[str, ...] = ("tau1", "tau2")


class TaskOutput(nn.Module):
    """A task model's output map for tau, flattened to ``(B, d)`` (module docstring)."""

    def __init__(self, model: nn.Module, loss: str) -> None:
        super().__init__()
        self.model, self.centre = model, loss in ("ce", "kl")

    def forward(self, x: Tensor) -> Tensor:
        out = self.model(x)
        if self.centre and out.ndim > 1 and out.shape[1] > 1:
            out = out - out.mean(dim=1, keepdim=True)  # the class axis (dense logits too)
        return out.reshape(out.shape[0], -1)


def tau_matrix_table(
    models: Mapping[str, tuple[nn.Module, str]],
    x: Tensor,
    *,
    tasks: Sequence[str] | None = None,
    block: int = 2,
    tol: float = 1e-4,
    max_iters: int = 100,
    batch_size: int = 16,
    seed: int = 0,
) -> pd.DataFrame:
    """tau1, tau2, alpha and the non-converged counts between every pair of task models.

    Args:
        models: task -> ``(model, loss kind)``; all on the images ``x``.
        x: ``(N, C, H, W)`` images in [0, 1].
        tasks: matrix order (default: the order of ``models``).
        block, tol, max_iters, batch_size, seed: the matrix-free solver's
            (:func:`advtransfer.core.matrixfree.top_singular_matrix_free`; ``k = 2``).

    Returns:
        The wide table of the module docstring.
    """
    tasks = list(models if tasks is None else tasks)
    wrapped = [TaskOutput(models[t][0], models[t][1]) for t in tasks]
    res = transferability_matrix_matrix_free(
        wrapped, x, k=2, block=block, tol=tol, max_iters=max_iters, batch_size=batch_size,
        seed=seed,
    )
    parts = []
    for measure in (*TAU_MEASURES, "alpha", "n_not_converged"):
        values = res[measure].cpu().numpy()
        part = pd.DataFrame(values.astype(np.float64), columns=tasks)
        part.insert(0, "target", tasks)
        part.insert(0, "measure", measure)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)
