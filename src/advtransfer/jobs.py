"""The preamble every workflow script shares: ``smk, log = start_job(snakemake)``.

Sends logging, warnings and stderr to the job's log file, limits torch to the job's
``threads``, and logs which rule and wildcards the job runs, so that a script under
``scripts/`` reads as: inputs and params in, one call into the package, outputs out.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from advtransfer import io

__all__ = ["start_job"]


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
