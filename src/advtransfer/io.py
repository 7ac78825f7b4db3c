"""File helpers for the workflow scripts: atomic writes, safetensors, logging.

Nothing here is math; the scripts under ``scripts/`` use these so that an interrupted job
never leaves a half-written file under a final name.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

__all__ = [
    "atomic_path",
    "save_tensors",
    "load_tensors",
    "write_json",
    "read_json",
    "write_tsv",
    "setup_logging",
]


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` only on success.

    Temporary files ``.<name>.*.part`` that a killed earlier writer of ``path`` left behind
    are removed first (Snakemake never runs two jobs for one output at once).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.part"):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def save_tensors(path: str | os.PathLike, tensors: Mapping[str, torch.Tensor], meta=None) -> None:
    """Save tensors as safetensors (atomically); ``meta`` values are stored as strings."""
    clean = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    metadata = {k: json.dumps(v) for k, v in (meta or {}).items()}
    with atomic_path(path) as tmp:
        save_file(clean, str(tmp), metadata=metadata)


def load_tensors(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Load a safetensors file (no pickle involved)."""
    if not Path(path).exists():
        raise FileNotFoundError(f"tensor file {path} does not exist")
    return load_file(str(path))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=float) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())


def write_tsv(path: str | os.PathLike, frame) -> None:
    """Write a pandas DataFrame as TSV with a header (atomically, fixed float format)."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=False, float_format="%.10g")


def setup_logging(log_path: str | os.PathLike | None, level: int = logging.INFO) -> logging.Logger:
    """Send logging and stderr (tqdm progress bars, warnings) to ``log_path``."""
    handlers: list[logging.Handler] = []
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        stream = open(log_path, "a", buffering=1)  # noqa: SIM115 - lives for the job
        sys.stderr = stream
        handlers.append(logging.StreamHandler(stream))
    else:
        handlers.append(logging.StreamHandler(sys.stderr))
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    logging.captureWarnings(True)
    return logging.getLogger("advtransfer")
