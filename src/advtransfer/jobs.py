"""The preamble every workflow script shares: ``smk, log = start_job(snakemake)``.

Sends logging, warnings and stderr to the job's log file, limits torch to the job's
``threads``, and logs which rule and wildcards the job runs, so that a script under
``scripts/`` reads as: inputs and params in, one call into the package, outputs out.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
from typing import Any

from advtransfer import io

__all__ = ["start_job", "retain_freed_memory"]

#: glibc ``mallopt`` parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
#: Allocations up to this size come from the heap and stay there when freed.
RETAINED_ALLOCATION_BYTES = 1 << 30


def retain_freed_memory() -> bool:
    """Keep freed tensor memory in the process (glibc) instead of returning it to the OS.

    torch allocates CPU tensors with ``malloc``; glibc serves a block over 32 MB by a fresh
    ``mmap`` and unmaps it on free, so a loop that makes and drops the same large batched
    tensors (a sweep: one ``(N, d, n)`` Jacobian per source) pays a page fault per 4 kB
    page every time, about a quarter of the synthetic sweep's time on the 2-core
    development machine. Raising the mmap and trim thresholds to
    :data:`RETAINED_ALLOCATION_BYTES` reuses the pages instead. The results are unchanged;
    the process's resident memory stays at its peak instead of falling after it.

    Returns:
        True when the thresholds were set (glibc), False elsewhere (nothing changes).
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = getattr(libc, "mallopt", None)
    except OSError:
        return False
    if mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, RETAINED_ALLOCATION_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, RETAINED_ALLOCATION_BYTES))


def start_job(smk: Any) -> tuple[Any, logging.Logger]:
    """Set up one Snakemake script job.

    Args:
        smk: the ``snakemake`` object Snakemake injects into a ``script:`` (its ``log``,
            ``threads``, ``rule`` and ``wildcards`` are read).

    Returns:
        ``(smk, log)``: the same object, and the ``advtransfer`` logger writing to the
        job's first log file (stderr when the rule has none).
    """
    log = io.setup_logging(smk.log[0] if len(smk.log) else None)
    # byte-reproducible figures: the date matplotlib writes into SVG (and PDF) metadata is
    # fixed by SOURCE_DATE_EPOCH, the SVG element ids by svg.hashsalt
    os.environ.setdefault("SOURCE_DATE_EPOCH", "0")
    try:
        import matplotlib
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        pass
    else:
        matplotlib.rcParams["svg.hashsalt"] = "advtransfer"
    threads = max(int(getattr(smk, "threads", 1) or 1), 1)
    if "torch" in sys.modules:  # set only where the script uses torch (importing it costs ~3 s)
        sys.modules["torch"].set_num_threads(threads)
    wildcards = dict(getattr(smk, "wildcards", {}) or {})
    log.info("rule %s%s, %d thread(s)", getattr(smk, "rule", "?"),
             f" {wildcards}" if wildcards else "", threads)
    return smk, log
