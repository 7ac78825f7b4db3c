"""Text data sets of the NLP scenario: loaders, splits and the normalised file format.

Every data set, whatever its origin, is turned into one *normalised* CSV file with the
columns ``split`` (``train``, ``val`` or ``test``), ``label`` (integer ``0..K-1``) and
``text``, plus a JSON sidecar with the class names. Loaders (``loader`` in the config):

* ``csv`` -- a local CSV file with a header row. The text is in ``text_column`` (default
  ``text``; a list of columns is joined with ". ", e.g. ``[title, text]``), the label in
  ``label_column`` (default ``label``): integers ``0..K-1`` or class names. ``train`` names
  the training file and ``test`` the test file; without ``test`` the test split is drawn
  from the training file.
* ``json`` -- the same records as JSON Lines (one object per line) or a JSON array of
  objects.
* ``hf`` -- a Hugging Face ``datasets`` id (e.g. ``fancyzhx/ag_news``) or local dataset
  directory, read with ``datasets.load_dataset`` from ``cache_dir``; offline unless
  downloads are allowed.
* ``synthetic`` -- one of the template corpora of :mod:`advtransfer.nlp.corpora`
  (offline stand-ins for the paper's corpora).

``n_train``, ``n_val`` and ``n_test`` rows are drawn without replacement with the data
set's seed (``null``: all that are available); validation rows come from the training
pool, never from the test pool.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from advtransfer.nlp import corpora, hub

__all__ = [
    "DatasetMissingError",
    "check_local_dataset",
    "load_pools",
    "build_splits",
    "prepare_dataset",
    "read_dataset",
    "split_texts",
    "load_word_vectors",
]

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


class DatasetMissingError(FileNotFoundError):
    """A configured data set (or vectors file) is not where the config says."""


def _resolve(path: str | os.PathLike, root: str | os.PathLike | None) -> Path:
    path = Path(path).expanduser()
    return path if path.is_absolute() or root is None else Path(root) / path


def local_files(spec: Mapping[str, Any], root: str | os.PathLike | None = None) -> list[Path]:
    """The local files a ``csv`` / ``json`` data set reads (empty for other loaders)."""
    if spec["loader"] not in ("csv", "json"):
        return []
    return [_resolve(spec[key], root) for key in ("train", "test") if spec.get(key)]


def check_local_dataset(name: str, spec: Mapping[str, Any],
                        root: str | os.PathLike | None = None) -> list[Path]:
    """Return the files of a local data set, or raise naming what is missing and the fix.

    Raises:
        DatasetMissingError: a ``train`` / ``test`` file of a ``csv`` / ``json`` data set
            does not exist.
    """
    if spec["loader"] in ("csv", "json") and not spec.get("train"):
        raise DatasetMissingError(
            f"data set {name!r} (loader {spec['loader']}) names no `train` file; set "
            f"nlp.datasets.{name}.train to a {spec['loader'].upper()} file"
        )
    files = local_files(spec, root)
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        hint = spec.get("obtain") or (
            f"put a {spec['loader'].upper()} file with columns "
            f"{spec.get('text_column', 'text')!r} and {spec.get('label_column', 'label')!r} "
            "there (see the format in configs/nlp_offline.yaml)"
        )
        raise DatasetMissingError(
            f"data set {name!r}: file(s) {', '.join(missing)} not found. To obtain: {hint}. "
            f"Or point nlp.datasets.{name} elsewhere in your config."
        )
    return files


# ---------------------------------------------------------------- loaders


def _text_series(frame: pd.DataFrame, column: str | Sequence[str], where: str) -> pd.Series:
    columns = [column] if isinstance(column, str) else list(column)
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise ValueError(f"{where}: no column(s) {absent}; columns are {list(frame.columns)}")
    parts = frame[columns].astype("string").fillna("")
    text = parts.iloc[:, 0]
    for col in columns[1:]:
        text = text.str.cat(parts[col], sep=". ")
    return text.str.replace(r"\s+", " ", regex=True).str.strip()


def _read_table(path: Path, loader: str) -> pd.DataFrame:
    """Every cell as a string; a missing or ``null`` cell is ``""`` (never ``"nan"``)."""
    if loader == "csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    text = path.read_text(encoding="utf-8").strip()
    try:
        if text.startswith("["):
            records = json.loads(text)
        else:
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON / JSON Lines: {err}") from err
    if not all(isinstance(r, dict) for r in records):
        raise ValueError(f"{path}: every record must be a JSON object")
    cells = [{k: "" if v is None else str(v) for k, v in r.items()} for r in records]
    return pd.DataFrame(cells, dtype=object).fillna("")


def _row_name(loader: str) -> Any:
    """How a message names data row ``i`` (0-based) of a local file."""
    if loader == "csv":
        return lambda i: f"row {i + 2} (counting the header as row 1)"
    return lambda i: f"record {i + 1}"


def _check_label_cells(raw: pd.Series, column: str, where: str,
                       classes: Sequence[str] | None, row: Any) -> None:
    """Refuse blank, negative and mixed (integer and name) label cells, naming the row.

    Labels are integers ``0..K-1`` in every row, or class names in every row; a blank
    cell would otherwise become a class ``''`` and shift the integer codes.
    """
    values = raw.astype(str).str.strip().reset_index(drop=True)
    fix = ("Fix: give every row a label, integers 0..K-1 in every row or class names in "
           "every row")
    blank = np.flatnonzero((values == "").to_numpy())
    if blank.size:
        raise ValueError(f"{where}, {row(int(blank[0]))}, column {column!r}: blank label "
                         f"({blank.size} blank label cell(s) in all). {fix}.")
    numeric = values.str.fullmatch(r"[+-]?\d+").to_numpy()
    if numeric.all():
        negative = np.flatnonzero(values.astype(int).to_numpy() < 0)
        if negative.size:
            i = int(negative[0])
            raise ValueError(f"{where}, {row(i)}, column {column!r}: label "
                             f"{values[i]!r} is negative. {fix}.")
        return
    if not numeric.any() or (classes is not None
                             and values.isin([str(c) for c in classes]).all()):
        return
    if numeric.sum() >= (~numeric).sum():
        i = int(np.flatnonzero(~numeric)[0])
        what = "is not an integer, but other rows hold integer labels"
    else:
        i = int(np.flatnonzero(numeric)[0])
        what = "is an integer, but other rows hold class names"
    raise ValueError(f"{where}, {row(i)}, column {column!r}: label {values[i]!r} {what}. "
                     f"{fix}.")


def _label_codes(raw: pd.Series, classes: Sequence[str] | None,
                 where: str) -> tuple[np.ndarray, list[str]]:
    """Integer codes and class names from a column of integer or string labels."""
    values = raw.astype(str).str.strip()
    if classes is not None:
        names = [str(c) for c in classes]
        if values.str.fullmatch(r"[+-]?\d+").all():
            codes = values.astype(int).to_numpy()
            if codes.min() < 0 or codes.max() >= len(names):
                raise ValueError(f"{where}: integer labels {sorted(set(codes))} outside "
                                 f"0..{len(names) - 1} for classes {names}")
            return codes.astype(np.int64), names
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise ValueError(f"{where}: labels {unknown} are not among classes {names}")
        return values.map({n: i for i, n in enumerate(names)}).to_numpy(np.int64), names
    if values.str.fullmatch(r"[+-]?\d+").all():
        codes = values.astype(int).to_numpy()
        return codes.astype(np.int64), [str(i) for i in range(int(codes.max()) + 1)]
    names = sorted(set(values))
    return values.map({n: i for i, n in enumerate(names)}).to_numpy(np.int64), names


def _frame(texts: pd.Series, codes: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame({"label": codes, "text": texts.to_numpy()})
    return frame[frame["text"].str.len() > 0].reset_index(drop=True)


def _load_local(name: str, spec: Mapping[str, Any], root) -> dict[str, Any]:
    files = check_local_dataset(name, spec, root)
    pools: dict[str, pd.DataFrame] = {}
    classes = spec.get("classes")
    raw = {key: _read_table(path, spec["loader"]) for key, path in
           zip(("train", "test"), files)}
    column = spec.get("label_column", "label")
    for key, frame in raw.items():
        where = f"data set {name!r} ({files[0 if key == 'train' else 1]})"
        if column not in frame.columns:
            raise ValueError(f"{where}: no label column {column!r};"
                             f" columns are {list(frame.columns)}")
        _check_label_cells(frame[column], column, where, classes, _row_name(spec["loader"]))
    kinds = {str(files[i]): bool(f[column].str.strip().str.fullmatch(r"[+-]?\d+").all())
             for i, f in enumerate(raw.values())}
    if classes is None and len(set(kinds.values())) > 1:
        ints, names = (f for f, is_int in sorted(kinds.items(), key=lambda kv: not kv[1]))
        raise ValueError(f"data set {name!r}: column {column!r} holds integer labels in {ints} "
                         f"but class names in {names}. Fix: use the same kind in both files.")
    for key, frame in raw.items():
        where = f"data set {name!r} ({files[0 if key == 'train' else 1]})"
        if classes is None:  # fix the class list on the union of both files
            joined = pd.concat([f[spec.get("label_column", "label")] for f in raw.values()])
            _, classes = _label_codes(joined, None, where)
        codes, classes = _label_codes(frame[spec.get("label_column", "label")], classes, where)
        pools[key] = _frame(_text_series(frame, spec.get("text_column", "text"), where), codes)
    return {"pools": pools, "classes": list(classes)}


def _load_hf(name: str, spec: Mapping[str, Any], cache_dir, allow_download: bool) -> dict:
    # load_dataset(revision=<commit>) reads exactly that commit, or fails
    revision = hub.require_revision(spec["path"], spec.get("revision"),
                                    f"nlp.datasets.{name}.revision", "dataset")
    if not allow_download:  # before the import: both libraries read these once
        os.environ["HF_DATASETS_OFFLINE"] = "1"
        os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        import datasets  # noqa: PLC0415 - optional, paper scale only
        import huggingface_hub.constants  # noqa: PLC0415
    except ImportError as err:
        raise DatasetMissingError(
            f"data set {name!r} uses loader hf, which needs the `datasets` package: "
            "pip install datasets"
        ) from err
    if not allow_download:  # in case they were imported earlier in this process
        datasets.config.HF_DATASETS_OFFLINE = True
        huggingface_hub.constants.HF_HUB_OFFLINE = True
    pools: dict[str, pd.DataFrame] = {}
    classes = spec.get("classes")
    splits = {"train": spec.get("train_split", "train"), "test": spec.get("test_split")}
    for key, split in splits.items():
        if split is None:
            continue
        try:
            ds = datasets.load_dataset(spec["path"], spec.get("config_name"), split=split,
                                       cache_dir=cache_dir, revision=revision)
        except Exception as err:  # noqa: BLE001 - every failure here means "not available"
            where = cache_dir or "the default Hugging Face cache (~/.cache/huggingface)"
            raise DatasetMissingError(
                f"data set {name!r}: Hugging Face dataset {spec['path']!r} split {split!r} "
                f"could not be loaded from {where} ({type(err).__name__}: {err}). To obtain "
                "it, run once on a machine with internet: python -c \"import datasets; "
                f"datasets.load_dataset('{spec['path']}', cache_dir='{cache_dir or ''}')\" "
                "and copy the cache directory here, or set nlp.allow_download: true."
            ) from err
        feature = ds.features.get(spec.get("label_column", "label"))
        if classes is None and getattr(feature, "names", None):
            classes = list(feature.names)
        frame = ds.to_pandas()
        where = f"data set {name!r} ({spec['path']}:{split})"
        codes, classes = _label_codes(frame[spec.get("label_column", "label")], classes, where)
        pools[key] = _frame(_text_series(frame, spec.get("text_column", "text"), where), codes)
    return {"pools": pools, "classes": list(classes)}


def _load_synthetic(name: str, spec: Mapping[str, Any]) -> dict:
    kind = spec["path"]
    if not spec.get("n_train") or not spec.get("n_test"):
        raise ValueError(f"data set {name!r}: a synthetic corpus needs n_train and n_test")
    n_train = spec["n_train"] + (spec.get("n_val") or 0)
    n_test = spec["n_test"]
    texts, labels = corpora.generate_corpus(kind, n_train + n_test, spec["seed"])
    pool = pd.DataFrame({"label": labels, "text": texts})
    return {"pools": {"train": pool.iloc[:n_train].reset_index(drop=True),
                      "test": pool.iloc[n_train:].reset_index(drop=True)},
            "classes": corpora.corpus_classes(kind)}


def load_pools(name: str, spec: Mapping[str, Any], *, root: str | os.PathLike | None = None,
               cache_dir: str | None = None, allow_download: bool = False) -> dict[str, Any]:
    """Load the raw ``train`` (and possibly ``test``) pools of one data set.

    Returns:
        ``{"pools": {"train": DataFrame[label, text], "test"?: ...}, "classes": [...]}``.
    """
    loader = spec["loader"]
    if loader in ("csv", "json"):
        return _load_local(name, spec, root)
    if loader == "hf":
        return _load_hf(name, spec, cache_dir, allow_download)
    if loader == "synthetic":
        return _load_synthetic(name, spec)
    raise ValueError(f"data set {name!r}: unknown loader {loader!r}")


def _take(n_available: int, n: int | None, rng: np.random.Generator) -> np.ndarray:
    order = rng.permutation(n_available)
    return order if n is None else order[: min(n, n_available)]


def build_splits(pools: Mapping[str, pd.DataFrame], *, n_train: int | None,
                 n_val: int | None, n_test: int | None, seed: int) -> pd.DataFrame:
    """Draw train / val / test rows (without replacement, seeded) from the pools.

    Validation rows come from the training pool. Without a test pool the test rows are
    drawn from the training pool first, so they never overlap train or val.

    Returns:
        DataFrame with columns ``split``, ``label``, ``text``.
    """
    rng = np.random.default_rng(seed)
    train_pool = pools["train"]
    order = rng.permutation(len(train_pool))
    if "test" in pools:
        test = pools["test"].iloc[_take(len(pools["test"]), n_test, rng)]
    else:
        if n_test is None:
            raise ValueError("without a test file or split, n_test must be given")
        test, order = train_pool.iloc[order[:n_test]], order[n_test:]
    n_val = n_val or 0
    val, order = train_pool.iloc[order[:n_val]], order[n_val:]
    train = train_pool.iloc[order if n_train is None else order[:n_train]]
    parts = [frame.assign(split=split) for split, frame in
             (("train", train), ("val", val), ("test", test))]
    out = pd.concat(parts, ignore_index=True)[["split", "label", "text"]]
    for split, wanted in (("train", n_train), ("val", n_val), ("test", n_test)):
        have = int((out["split"] == split).sum())
        if wanted is not None and have < wanted:
            logger.warning("split %s: %d rows requested, only %d available", split, wanted, have)
    return out


def prepare_dataset(name: str, spec: Mapping[str, Any], **kwargs) -> tuple[pd.DataFrame, dict]:
    """Load one configured data set and draw its splits; returns ``(frame, meta)``."""
    loaded = load_pools(name, spec, **kwargs)
    frame = build_splits(loaded["pools"], n_train=spec.get("n_train"), n_val=spec.get("n_val"),
                         n_test=spec.get("n_test"), seed=spec["seed"])
    classes = loaded["classes"]
    if frame["label"].max() >= len(classes):
        raise ValueError(f"data set {name!r}: labels exceed the {len(classes)} classes")
    counts = {s: int((frame["split"] == s).sum()) for s in SPLITS}
    if counts["train"] == 0 or counts["test"] == 0:
        raise ValueError(f"data set {name!r} has an empty split: {counts}")
    meta = {"name": name, "classes": classes, "loader": spec["loader"],
            "path": str(spec.get("path") or spec.get("train")), "counts": counts}
    return frame, meta


def read_dataset(path: str | os.PathLike) -> pd.DataFrame:
    """Read a normalised data set file (columns split, label, text)."""
    frame = pd.read_csv(path, dtype={"split": str, "label": np.int64, "text": str},
                        keep_default_na=False)
    missing = {"split", "label", "text"} - set(frame.columns)
    if missing:
        raise ValueError(f"{path}: not a normalised data set (missing columns {missing})")
    return frame


def split_texts(frame: pd.DataFrame, split: str) -> tuple[list[str], np.ndarray]:
    """Texts and labels of one split of a normalised data set."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    part = frame[frame["split"] == split]
    return part["text"].tolist(), part["label"].to_numpy(np.int64)


def load_word_vectors(path: str | os.PathLike,
                      vocabulary: set[str] | None = None) -> tuple[list[str], np.ndarray]:
    """Read a word-vector text file (``word v1 v2 ...`` per line, e.g. counter-fitted vectors).

    The counter-fitted vectors of Mrkšić et al. (2016) used by TextFooler have this format
    (``counter-fitted-vectors.txt``). Lines whose word is not in ``vocabulary`` (when
    given) are skipped; a first line of two integers (word2vec text header) is ignored.

    Returns:
        ``(words, vectors)`` with vectors of shape ``(len(words), dim)``, float32.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetMissingError(
            f"word-vector file {path} not found. To obtain the counter-fitted vectors, "
            "download counter-fitted-vectors.txt (Mrkšić et al. 2016, "
            "github.com/nmrksic/counter-fitting, also linked from TextFooler's README) "
            "and set nlp.attack.embeddings to its path, or set it to null to use the "
            "encoder's own input token embeddings."
        )
    words: list[str] = []
    rows: list[np.ndarray] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            parts = line.rstrip().split(" ")
            if number == 0 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue
            if len(parts) < 2 or (vocabulary is not None and parts[0] not in vocabulary):
                continue
            words.append(parts[0])
            rows.append(np.asarray(parts[1:], dtype=np.float32))
    if not rows:
        raise ValueError(f"{path}: no word vectors read")
    dims = {r.shape[0] for r in rows}
    if len(dims) != 1:
        raise ValueError(f"{path}: vectors of different lengths {sorted(dims)}")
    return words, np.stack(rows)
