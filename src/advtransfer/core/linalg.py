"""Batched eigendecompositions of many small symmetric matrices (docs/method.md §3).

The Gram routes of the metric core (:func:`advtransfer.core.tau.top_singular`,
:func:`advtransfer.core.theory.gradient_difference`) diagonalise one small ``d x d``
matrix per evaluation point: 5,000 points of a 10-output model are 5,000 ``10 x 10``
problems. On the CPU, ``torch.linalg.eigh`` solves a batch one matrix after the other
on a single thread, whatever ``torch.get_num_threads()`` says, so the batch is split
into one contiguous part per intra-op thread and the parts are solved concurrently
(LAPACK releases the GIL). Each matrix is solved by the same LAPACK call as before, so
the result is bit-for-bit that of one ``torch.linalg.eigh`` on the whole batch.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import torch
from torch import Tensor

__all__ = ["symmetric_eig", "MIN_MATRICES_PER_THREAD"]

#: Below this many matrices per thread the batch is solved in one call (the thread
#: hand-off costs more than it saves).
MIN_MATRICES_PER_THREAD = 256

_pool: ThreadPoolExecutor | None = None
_pool_key: tuple[int, int] = (0, 0)  # (process id, workers): a forked child makes its own


def _executor(workers: int) -> ThreadPoolExecutor:
    global _pool, _pool_key
    key = (os.getpid(), workers)
    if _pool is None or _pool_key != key:
        # A pool inherited through fork has no running threads; never reuse it.
        _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="advtransfer-eigh")
        _pool_key = key
    return _pool


def symmetric_eig(gram: Tensor, *, eigenvectors: bool = True) -> Tensor | tuple[Tensor, Tensor]:
    """Eigenvalues (ascending) and, optionally, eigenvectors of a batch of symmetric matrices.

    Same contract as ``torch.linalg.eigh`` / ``torch.linalg.eigvalsh`` on ``(B, m, m)``;
    on the CPU with ``B >= 2 * MIN_MATRICES_PER_THREAD`` the batch is split over
    ``torch.get_num_threads()`` threads (see the module docstring).

    Args:
        gram: ``(B, m, m)`` symmetric matrices.
        eigenvectors: also return the eigenvectors (``eigh``) instead of the values only
            (``eigvalsh``).

    Returns:
        ``(B, m)`` eigenvalues, or ``(eigenvalues, eigenvectors)`` with ``(B, m, m)``
        eigenvectors in the columns.
    """
    solve = torch.linalg.eigh if eigenvectors else torch.linalg.eigvalsh
    if gram.ndim != 3:
        return solve(gram)
    workers = min(torch.get_num_threads(), gram.shape[0] // MIN_MATRICES_PER_THREAD)
    if gram.device.type != "cpu" or workers < 2:
        return solve(gram)
    parts = list(_executor(workers).map(solve, gram.chunk(workers)))
    if not eigenvectors:
        return torch.cat(parts)
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
