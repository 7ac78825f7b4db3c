"""File helpers for the workflow scripts: atomic writes, safetensors, logging.

Nothing here is math; the scripts under ``scripts/`` use these so that an interrupted job
never leaves a half-written file under a final name.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import pickle
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safetensors import SafetensorError, safe_open

if TYPE_CHECKING:  # torch is imported where tensors are read or written: a job that only
    import torch  # reads tables and logs (summaries, figures) starts ~2.5 s sooner

__all__ = [
    "CorruptFileError",
    "RefusedGlobalError",
    "unpickling_failure",
    "atomic_path",
    "corrupt_file_message",
    "save_tensors",
    "load_tensors",
    "load_tensor_meta",
    "open_tensors",
    "save_figure",
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
        # mkstemp creates 0600; give the file the mode a plain open() would (0666 & ~umask)
        # so that group members on a shared cluster can read the results
        os.chmod(tmp_path, 0o666 & ~_current_umask())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _current_umask() -> int:
    """The process umask (read by setting and restoring it; os has no getter)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def save_tensors(path: str | os.PathLike, tensors: Mapping[str, torch.Tensor], meta=None) -> None:
    """Save tensors as safetensors (atomically); ``meta`` values are stored as strings.

    The header is rewritten with sorted keys (safetensors writes the metadata in hash-map
    order, which differs from run to run), so equal contents give equal bytes.
    """
    from safetensors.torch import save_file

    clean = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    metadata = {k: json.dumps(v, sort_keys=True) for k, v in sorted((meta or {}).items())}
    with atomic_path(path) as tmp:
        save_file(clean, str(tmp), metadata=metadata)
        _sort_header(tmp)


def _sort_header(path: Path) -> None:
    """Rewrite a safetensors header with sorted keys; the tensor data stay as they are."""
    with open(path, "r+b") as f:
        size = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(size))
        meta = header.pop("__metadata__", None)
        out = {"__metadata__": dict(sorted(meta.items()))} if meta is not None else {}
        out.update(sorted(header.items()))  # data_offsets are relative to the data block
        text = json.dumps(out, separators=(",", ":"), ensure_ascii=False).encode()
        text += b" " * (-len(text) % 8)  # the data block starts 8-byte aligned
        if len(text) == size:
            f.seek(8)
            f.write(text)
            return
    # another length (escaping differs): copy the data block behind the new header
    tmp = path.with_name(path.name + ".sort")
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        src.seek(8 + size)
        dst.write(len(text).to_bytes(8, "little") + text)
        shutil.copyfileobj(src, dst, 1 << 24)
    os.replace(tmp, path)


class CorruptFileError(ValueError):
    """A file is truncated or corrupted; the message names the file and the fix."""


def corrupt_file_message(path: str | os.PathLike, reason: str, fix: str | None = None) -> str:
    """``<path> is truncated or corrupted (<reason>). Fix: <fix>``.

    The default fix is the one for files the workflow wrote (cached data sets, trained
    models, intermediate tensors): delete the file and let Snakemake rebuild it.
    """
    if fix is None:
        fix = (f"delete it and re-run the workflow to rebuild it "
               f"(or run snakemake with --force {path})")
    return f"{path} is truncated or corrupted ({reason}). Fix: {fix}"


class RefusedGlobalError(pickle.UnpicklingError):
    """A restricted unpickler met a global (or a value) it does not allow."""


def unpickling_failure(
    path: str | os.PathLike, err: BaseException, what: str = "pickle", fix: str | None = None
) -> Exception:
    """The exception to raise when a restricted unpickler fails on ``path``.

    A refused global (:class:`RefusedGlobalError`) gives ``pickle.UnpicklingError``; a
    file that ends early gives :class:`CorruptFileError` saying it is truncated; any other
    failure :class:`CorruptFileError` saying it is corrupted. Each names the file and
    ``fix`` (default: obtain the file again).
    """
    fix = fix or "delete it and obtain it again from its source"
    reason = _reason(err)
    if isinstance(err, RefusedGlobalError):
        return pickle.UnpicklingError(
            f"{path}: {reason}; it is not a genuine {what} and was not loaded "
            f"(nothing in it ran). Fix: {fix}")
    if isinstance(err, EOFError) or "truncated" in str(err):
        return CorruptFileError(
            f"{path} is truncated: not a valid {what}, the data end early ({reason}). "
            f"Fix: {fix}")
    return CorruptFileError(f"{path} is corrupted: not a valid {what} ({reason}). Fix: {fix}")


def _reason(err: BaseException) -> str:
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise FileNotFoundError(f"tensor file {path} does not exist")


def load_tensors(
    path: str | os.PathLike, device: str = "cpu", fix: str | None = None
) -> dict[str, torch.Tensor]:
    """Load a safetensors file (no pickle involved).

    Raises:
        FileNotFoundError: no such file.
        CorruptFileError: the file is truncated or its header is damaged (the message
            names the file and ``fix``, by default: delete it and re-run).
    """
    from safetensors.torch import load_file

    path = Path(path)
    _check_exists(path)
    try:
        return load_file(str(path), device=device)
    except (SafetensorError, OSError) as err:
        raise CorruptFileError(corrupt_file_message(path, _reason(err), fix)) from err


@contextmanager
def open_tensors(path: str | os.PathLike, fix: str | None = None) -> Iterator[Any]:
    """``safetensors.safe_open`` (framework ``pt``) that names a damaged file and the fix."""
    path = Path(path)
    _check_exists(path)
    try:
        handle = safe_open(str(path), framework="pt")
    except (SafetensorError, OSError) as err:
        raise CorruptFileError(corrupt_file_message(path, _reason(err), fix)) from err
    with handle:
        yield handle


def load_tensor_meta(path: str | os.PathLike, fix: str | None = None) -> dict[str, Any]:
    """The metadata :func:`save_tensors` wrote (JSON values decoded), read from the header."""
    with open_tensors(path, fix) as handle:
        raw = handle.metadata() or {}
    try:
        return {k: json.loads(v) for k, v in raw.items()}
    except json.JSONDecodeError as err:
        raise CorruptFileError(
            corrupt_file_message(path, f"metadata is not JSON: {_reason(err)}", fix)) from err


def save_figure(fig: Any, path: str | os.PathLike, format: str, **kwargs: Any) -> None:  # noqa: A002
    """Save a matplotlib figure atomically and byte-for-byte reproducibly.

    SVG and PDF get no creation date (``metadata={"Date": None}`` /
    ``{"CreationDate": None}``) and SVG element ids come from a fixed ``svg.hashsalt``
    (``"advtransfer"`` unless one is set), so the same figure gives the same bytes in every
    run; PNG metadata holds only matplotlib's constant ``Software`` entry.
    ``kwargs`` go to ``fig.savefig`` (``dpi``, ``bbox_inches``, ...).
    """
    import matplotlib  # noqa: PLC0415 - only the plotting scripts need it

    meta = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(format)
    if meta is not None:
        kwargs["metadata"] = {**meta, **kwargs.get("metadata", {})}
    salt = matplotlib.rcParams["svg.hashsalt"] or "advtransfer"
    with atomic_path(path) as tmp, matplotlib.rc_context({"svg.hashsalt": salt}):
        fig.savefig(tmp, format=format, **kwargs)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=float) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())


def write_tsv(path: str | os.PathLike, frame) -> None:
    """Write a pandas DataFrame as TSV with a header (atomically, fixed float format)."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=False, float_format="%.10g")


class _LogStream:
    """A log file as stderr, minus progress-bar redraws.

    Progress bars (tqdm) redraw a line with carriage returns; in a file that leaves
    hundreds of control characters per bar. This stream keeps only the last state of a
    redrawn line and writes it when the line ends, so a log holds one readable line per
    finished bar.
    """

    def __init__(self, handle: Any) -> None:
        self._handle = handle
        self._pending = ""

    def write(self, text: str) -> int:
        for piece in re.split(r"(\n)", text):
            if piece == "\n":
                if self._pending.strip():
                    self._handle.write(self._pending.rstrip() + "\n")
                self._pending = ""
            elif piece:
                self._pending = piece.rsplit("\r", 1)[-1] if "\r" in piece else (
                    self._pending + piece)
        return len(text)

    def flush(self) -> None:
        self._handle.flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._handle.fileno()

    def close(self) -> None:
        if self._pending.strip():
            self._handle.write(self._pending.rstrip() + "\n")
        self._pending = ""
        self._handle.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


def setup_logging(log_path: str | os.PathLike | None, level: int = logging.INFO) -> logging.Logger:
    """Send logging and stderr (tqdm progress bars, warnings) to ``log_path``."""
    handlers: list[logging.Handler] = []
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        stream = _LogStream(open(log_path, "a", buffering=1))  # noqa: SIM115 - job-long
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
