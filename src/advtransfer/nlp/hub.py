"""Pinning of Hugging Face models and data sets by commit.

A hub name (``bert-base-uncased``, ``stanfordnlp/imdb``) without a revision resolves to
whatever ``main`` points at today, so two runs months apart could train on different
weights or rows. Every ``hf`` encoder and data set of the config therefore names a commit
hash (``revision``), and what is loaded is checked to be that commit: the snapshot
directory huggingface_hub resolves (``<cache>/models--<org>--<name>/snapshots/<commit>/``)
must carry the pinned hash.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["RevisionError", "check_snapshot_commit", "require_revision"]

#: A full git commit hash, as the hub's /commits pages list them.
COMMIT = re.compile(r"[0-9a-f]{40}")


class RevisionError(ValueError):
    """A Hugging Face model or data set is not pinned by commit, or is another commit."""


def _commits_url(name: str, kind: str) -> str:
    prefix = "datasets/" if kind == "dataset" else ""
    return f"https://huggingface.co/{prefix}{name}/commits/main"


def require_revision(name: str, revision: str | None, key: str, kind: str = "model") -> str:
    """Return ``revision``; raise :class:`RevisionError` unless it is a 40-hex commit hash.

    Args:
        name: hub id, e.g. ``bert-base-uncased`` or ``fancyzhx/ag_news``.
        revision: the configured revision.
        key: the dotted config key, for the message (``nlp.encoder.revision``).
        kind: ``"model"`` or ``"dataset"`` (which hub page lists the commits).
    """
    if revision is None or not COMMIT.fullmatch(str(revision)):
        got = "" if revision is None else (
            f" ({revision!r} is not a commit hash: branches and tags move)")
        raise RevisionError(
            f"pin {name} by revision: set {key} to a commit hash from "
            f"{_commits_url(name, kind)}{got}")
    return str(revision)


def check_snapshot_commit(path: str | os.PathLike, name: str, revision: str, key: str) -> Path:
    """Check that a resolved hub snapshot directory is the pinned commit; return it.

    huggingface_hub keeps each downloaded commit in ``snapshots/<commit>/`` (``refs/main``
    only records which commit ``main`` was); the directory name is the commit loaded.
    """
    path = Path(path)
    commit = path.name
    if commit != revision:
        raise RevisionError(
            f"{name}: the resolved snapshot {path} is commit {commit}, but {key} pins "
            f"{revision}. Fix: fetch the pinned commit into the cache (hf download {name} "
            f"--revision {revision}), or set {key} to the commit you mean to use")
    return path
