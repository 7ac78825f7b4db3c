"""Taskonomy tasks, categories and the public transfer-affinity file (Liang et al., §4.4).

Knowledge-transfer ground truth for the paper-scale task experiment is Taskonomy's
first-order transfer affinity (Zamir et al., CVPR 2018), published as
``results/affinities/all_affinities.pkl`` in the StanfordVL/taskonomy GitHub repository
(https://github.com/StanfordVL/taskonomy, folder ``results/``: "the raw and normalized data
used for measuring task affinities"). The task-bank models come from the same repository; the
``visualpriors`` package (PyPI) ships PyTorch ports of them.

What the files hold (checked against the copies in resources/taskonomy):

* ``all_affinities.pkl``: a ``dict`` of 814 ``numpy.float64`` values keyed
  ``"source__target"`` (594 keys) or ``"source1__source2__target"`` (220 second-order
  keys). It covers 22 targets; each target has 37 sources -- 25 tasks, the two special
  sources ``"self"`` and ``"random"`` (Taskonomy's own baselines), and 10 pairs of tasks --
  and **the 37 values of every target sum to 1**: they are already Taskonomy's
  AHP-normalised affinities (Perron vector of the pairwise win-ratio matrix, sum-normalised
  over the 37 sources), not raw losses or win rates. Two tasks carry their internal
  names: ``segmentsemantic`` is ``segmentsemantic_rb`` and ``class_places`` (scene
  classification) is ``class_selected``.
* ``affinity15_rows_target_cols_source.csv``: the paper's 15 x 15 slice, rows = targets,
  columns = sources, both in :data:`TASKONOMY_15` order, header line commented with ``#``.
  It equals the pickle slice ``pickle["<source>__<target>"]`` to the CSV's 6 significant
  digits (max relative difference ~5e-6): **the same AHP-normalised numbers, not
  renormalised over the 15 kept sources** (rows sum to 0.002-0.42, not 1; the
  ``autoencoder`` and ``class_places`` rows are tiny because their mass sits on ``self`` or on
  second-order sources). The diagonal is the ``task__task`` entry (the task's own encoder
  as source), not ``self``. Use :func:`advtransfer.tasks.graph.normalise` to renormalise
  over the slice if wanted.

The pickle is read with a restricted unpickler that only resolves the two globals such a
file needs (``numpy.dtype`` and numpy's ``scalar`` reconstructor, for non-object dtypes);
any other global raises ``pickle.UnpicklingError``.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from advtransfer.io import RefusedGlobalError, unpickling_failure

__all__ = [
    "TASKONOMY_15",
    "TASKONOMY_CATEGORIES",
    "AFFINITY_KEY_ALIASES",
    "AFFINITY_CSV_NAME",
    "AFFINITY_PICKLE_NAME",
    "DATA_DIR_ENV",
    "AFFINITY_SOURCE_HINT",
    "default_data_dir",
    "categories_of",
    "read_affinity_pickle",
    "affinity_frame",
    "load_affinity_csv",
    "load_affinity_pickle",
]

TASKONOMY_15: tuple[str, ...] = (
    "autoencoder",
    "curvature",
    "edge2d",
    "keypoint2d",
    "segment2d",
    "edge3d",
    "keypoint3d",
    "reshade",
    "rgb2depth",
    "rgb2mist",
    "rgb2sfnorm",
    "segment25d",
    "segmentsemantic",
    "class_1000",
    "class_places",
)
"""The 15 Taskonomy task-bank tasks of Liang et al. §4.4, in the paper's (and CSV's) order."""

TASKONOMY_CATEGORIES: dict[str, str] = {
    **{t: "2D" for t in ("autoencoder", "curvature", "edge2d", "keypoint2d", "segment2d")},
    **{
        t: "3D"
        for t in (
            "edge3d",
            "keypoint3d",
            "reshade",
            "rgb2depth",
            "rgb2mist",
            "rgb2sfnorm",
            "segment25d",
        )
    },
    **{t: "semantic" for t in ("segmentsemantic", "class_1000", "class_places")},
}
"""A-priori category (2D / 3D / semantic) of each :data:`TASKONOMY_15` task (Liang et al. §4.4)."""

AFFINITY_KEY_ALIASES: dict[str, str] = {
    "segmentsemantic": "segmentsemantic_rb",
    "class_places": "class_selected",
}
"""Task-bank name -> name used in the keys of ``all_affinities.pkl``."""

AFFINITY_CSV_NAME = "affinity15_rows_target_cols_source.csv"
AFFINITY_PICKLE_NAME = "all_affinities.pkl"
DATA_DIR_ENV = "ADVTRANSFER_TASKONOMY_DIR"
AFFINITY_SOURCE_HINT = (
    "get the public Taskonomy affinity file results/affinities/all_affinities.pkl from "
    "https://github.com/StanfordVL/taskonomy (the repository of the task-bank models that "
    "the visualpriors package ports); the 15 x 15 CSV is its first-order slice over "
    "TASKONOMY_15, rows = targets, columns = sources"
)


def default_data_dir() -> Path:
    """Directory holding the Taskonomy affinity files.

    ``$ADVTRANSFER_TASKONOMY_DIR`` if set, else ``<repository>/resources/taskonomy``, the
    copy of the public affinity files shipped with advtransfer (source and licence in its
    README.md).

    Returns:
        The directory path (it may not exist).
    """
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "resources" / "taskonomy"


def categories_of(tasks: Sequence[str]) -> list[str]:
    """A-priori categories of ``tasks`` (see :data:`TASKONOMY_CATEGORIES`).

    Args:
        tasks: task names.

    Returns:
        List of ``"2D"``, ``"3D"`` or ``"semantic"``, same order.
    """
    unknown = [t for t in tasks if t not in TASKONOMY_CATEGORIES]
    if unknown:
        raise ValueError(f"no a-priori category for {unknown}; known: {list(TASKONOMY_CATEGORIES)}")
    return [TASKONOMY_CATEGORIES[t] for t in tasks]


def _check_exists(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(
            f"Taskonomy affinity file not found: expected {p} "
            f"(set ${DATA_DIR_ENV} to the directory holding {AFFINITY_PICKLE_NAME} / "
            f"{AFFINITY_CSV_NAME}); {AFFINITY_SOURCE_HINT}"
        )
    return p


# ------------------------------------------------------------------ restricted pickle


def _numpy_scalar_reconstructor() -> Any:
    try:  # numpy >= 2
        from numpy._core.multiarray import scalar
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import scalar  # type: ignore[no-redef]
    return scalar


def _safe_scalar(dtype: np.dtype, *args: Any) -> Any:
    """numpy's scalar reconstructor, refusing object dtypes (which could embed any object)."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise RefusedGlobalError(f"refusing numpy scalar of dtype {dtype!r}")
    return _numpy_scalar_reconstructor()(dtype, *args)


class _AffinityUnpickler(pickle.Unpickler):
    """Unpickler resolving only ``numpy.dtype`` and numpy's scalar reconstructor."""

    _ALLOWED = {
        ("numpy", "dtype"): np.dtype,
        ("numpy.core.multiarray", "scalar"): _safe_scalar,
        ("numpy._core.multiarray", "scalar"): _safe_scalar,
    }

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise RefusedGlobalError(
                f"global {module}.{name} is not allowed in a Taskonomy affinity pickle"
            ) from None


def read_affinity_pickle(path: str | os.PathLike[str]) -> dict[str, float]:
    """Read ``all_affinities.pkl`` safely into ``{"source__target": affinity}``.

    Args:
        path: path of the pickle.

    Returns:
        ``dict`` mapping keys ``"source__target"`` (and second-order
        ``"source1__source2__target"``) to float affinities.

    Raises:
        FileNotFoundError: the file is missing (the message says where to get it).
        pickle.UnpicklingError: the pickle references a global other than numpy's dtype /
            scalar reconstructor (the message names the file).
        ValueError: the content is not a ``str -> number`` mapping;
            :class:`advtransfer.io.CorruptFileError` for a truncated or corrupt file.
    """
    p = _check_exists(path)
    try:
        with p.open("rb") as fh:
            data = _AffinityUnpickler(fh).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError,
            KeyError, AttributeError) as err:
        raise unpickling_failure(p, err, "Taskonomy affinity pickle",
                                 f"delete it and obtain it again: {AFFINITY_SOURCE_HINT}") from err
    if not isinstance(data, dict):
        raise ValueError(f"{p}: expected a dict of affinities, got {type(data).__name__}")
    out: dict[str, float] = {}
    for key, value in data.items():
        if not isinstance(key, str) or not isinstance(value, (float, int, np.floating, np.integer)):
            raise ValueError(
                f"{p}: entry {key!r}: {value!r} is not a 'source__target': number pair"
            )
        out[key] = float(value)
    return out


def affinity_frame(
    affinities: Mapping[str, float],
    tasks: Sequence[str] = TASKONOMY_15,
    aliases: Mapping[str, str] = AFFINITY_KEY_ALIASES,
) -> pd.DataFrame:
    """First-order affinity slice as a target x source matrix.

    ``frame.loc[t, s] = affinities[f"{alias(s)}__{alias(t)}"]``.

    Args:
        affinities: mapping with ``"source__target"`` keys (from :func:`read_affinity_pickle`).
        tasks: tasks to keep, used for both rows and columns.
        aliases: task name -> name used in the keys.

    Shape:
        result: ``(len(tasks), len(tasks))``.

    Returns:
        ``DataFrame`` with index ``target`` and columns ``source``, both ``tasks``.
    """
    tasks = list(tasks)
    if not tasks:
        raise ValueError("tasks must not be empty")
    if len(set(tasks)) != len(tasks):
        raise ValueError("tasks must be unique")
    values = np.empty((len(tasks), len(tasks)), dtype=np.float64)
    missing = []
    for i, target in enumerate(tasks):
        for j, source in enumerate(tasks):
            key = f"{aliases.get(source, source)}__{aliases.get(target, target)}"
            if key in affinities:
                values[i, j] = affinities[key]
            else:
                missing.append(key)
    if missing:
        raise ValueError(f"{len(missing)} affinities missing, e.g. {missing[:5]}")
    return pd.DataFrame(
        values, index=pd.Index(tasks, name="target"), columns=pd.Index(tasks, name="source")
    )


def load_affinity_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Load the 15 x 15 affinity slice CSV (rows = targets, columns = sources).

    The header names the source tasks (its first cell starts with ``#``); the rows are the
    same tasks, in the same order, as targets.

    Args:
        path: path of ``affinity15_rows_target_cols_source.csv``.

    Returns:
        Square ``DataFrame`` with index ``target`` and columns ``source``.

    Raises:
        FileNotFoundError: the file is missing (the message says where to get it).
        ValueError: the table is not square, has duplicate names or non-finite / negative values.
    """
    p = _check_exists(path)
    raw = pd.read_csv(p)
    names = [str(c).lstrip("#").strip() for c in raw.columns]
    if raw.shape[0] != raw.shape[1]:
        raise ValueError(f"{p}: expected a square table, got shape {raw.shape}")
    if len(set(names)) != len(names):
        raise ValueError(f"{p}: duplicate task names in header {names}")
    values = raw.to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(f"{p}: affinities must be finite and non-negative")
    return pd.DataFrame(
        values, index=pd.Index(names, name="target"), columns=pd.Index(names, name="source")
    )


def load_affinity_pickle(
    path: str | os.PathLike[str],
    tasks: Sequence[str] = TASKONOMY_15,
    aliases: Mapping[str, str] = AFFINITY_KEY_ALIASES,
) -> pd.DataFrame:
    """Load the first-order Taskonomy affinities of ``tasks`` from ``all_affinities.pkl``.

    Reads the pickle with a restricted unpickler (:func:`read_affinity_pickle`) and returns
    ``frame.loc[target, source] = pickle[f"{source}__{target}"]`` (names mapped through
    ``aliases``). With the defaults this equals :func:`load_affinity_csv` on the shared CSV.

    Args:
        path: path of ``all_affinities.pkl``.
        tasks: tasks for rows and columns (default :data:`TASKONOMY_15`).
        aliases: task name -> key name (default :data:`AFFINITY_KEY_ALIASES`).

    Returns:
        ``DataFrame`` with index ``target`` and columns ``source``.
    """
    return affinity_frame(read_affinity_pickle(path), tasks=tasks, aliases=aliases)
