"""Per-source measures of the NLP scenario (docs/method.md §3, §6, §9.5).

* :func:`attack_sentences` runs :func:`advtransfer.nlp.attack.textfooler_attack` of one
  model over the drawn target sentences (one table row per sentence).
* :func:`text_adversarial_measures`: adversarial transferability from a source to the
  reference -- the reference's cross-entropy and flip rate on the source's adversarial
  sentences, their ratio to the reference's own attack, and tau1 / tau2 / alpha on logit
  Jacobians with respect to the input word embeddings.
* :func:`text_knowledge_measures`: knowledge transferability -- a new linear layer on the
  frozen source encoder, fitted on target training sentences, scored on target test
  sentences (exact logistic regression on cached features, or Adam as in the paper).

Why tau1 / tau2 are sound here: every model starts from the same pretrained encoder,
uses its tokenizer and, with ``freeze_word_embeddings``, keeps its input word embedding
matrix ``E``. A sentence is tokenised once to ``L`` positions and mapped to
``z = E[tokens]`` in ``R^{L x h}``; source and reference are both functions of the same
``z`` (positions, LayerNorm and the rest belong to each function), so their Jacobians
``(K, L h)`` live in one input space and the definitions of docs/method.md §3 apply unchanged, with
``n = L h``. Special-token and padding columns are zeroed (the attacker controls words
only). When the embeddings were fine-tuned (``freeze_word_embeddings: false``), the two
models see different ``z`` for the same sentence; the measures are then computed on each
model's own ``z`` (a perturbation added to each model's embedding) and the row says so in
``tau_input_space``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from tqdm.auto import tqdm

from advtransfer.core import tau
from advtransfer.core.names import ADVERSARIAL_MEASURES, KNOWLEDGE_MEASURES
from advtransfer.nlp import corpora
from advtransfer.nlp.attack import STOP_WORDS, WORD_PATTERN, EmbeddingNeighbours, textfooler_attack

__all__ = [
    "ATTACK_COLUMNS",
    "ADVERSARIAL_MEASURES",
    "JACOBIAN_MEMORY_MB",
    "TEXT_JACOBIAN_METHODS",
    "KNOWLEDGE_MEASURES",
    "NLP_LABELS",
    "attack_indices",
    "vocabulary_neighbours",
    "attack_sentences",
    "polarity_swap_rate",
    "text_adversarial_measures",
    "text_knowledge_measures",
    "adam_linear_probe",
    "relabel_for_text",
]


#: ``jacobian_method`` of :func:`text_adversarial_measures` (as in the image scenarios).
TEXT_JACOBIAN_METHODS = ("auto", "exact", "matrix_free")

#: Memory budget (MB) of ``jacobian_method: auto``, the image scenarios' default
#: (``advtransfer.images.measures.JACOBIAN_MEMORY_MB``).
JACOBIAN_MEMORY_MB = 2000


ATTACK_COLUMNS = ("index", "label", "success", "source_label", "source_adv_label", "n_words",
                  "budget", "n_changed", "queries", "similarity", "source_confidence",
                  "source_adv_confidence", "changes", "text", "adv_text")

#: Axis labels for the shared figures (advtransfer.plots) in text units.
NLP_LABELS = {
    "cross_adv_loss": "cross adversarial loss (nats)\n(reference CE, source's adv. sentences)",
    "adv_loss_ratio": "normalised cross adv. loss\n(ratio to the reference's own attack)",
    "flip_rate": "reference flip rate\n(fraction of attacked sentences)",
    "probe_accuracy": "transfer accuracy, full linear probe\n(fraction of target test texts)",
    "kshot_accuracy": "transfer accuracy, k-shot probe\n(fraction of target test texts)",
}


def attack_indices(n_available: int, n: int, seed: int) -> np.ndarray:
    """Indices of the ``min(n, n_available)`` sentences to attack: a seeded draw, sorted."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    return np.sort(rng.permutation(n_available)[: min(n, n_available)])


def vocabulary_neighbours(vocabulary: Sequence[str], embeddings: torch.Tensor, *, k: int,
                          min_cosine: float) -> EmbeddingNeighbours:
    """Candidate substitutes from a model's input token embeddings (whole words only).

    Keeps vocabulary entries that are plain words of two or more letters (no ``##``
    word pieces, no ``[CLS]``-style special tokens) and not stop words, and drops
    negated forms ("unpleasant" for "pleasant"), the commonest antonyms among raw
    embedding neighbours.
    """
    rows = [i for i, w in enumerate(vocabulary)
            if len(w) > 1 and WORD_PATTERN.fullmatch(w) and w.lower() not in STOP_WORDS]
    if not rows:
        raise ValueError("the vocabulary holds no whole words to substitute")
    words = [vocabulary[i] for i in rows]
    return EmbeddingNeighbours(words, embeddings.detach()[rows].float().cpu(), k=k,
                               min_cosine=min_cosine, exclude=STOP_WORDS,
                               drop_negated_forms=True)


def attack_sentences(
    predict_proba: Callable[[list[str]], np.ndarray],
    texts: Sequence[str],
    labels: Sequence[int],
    indices: Sequence[int],
    neighbours: Callable[[str], Sequence[tuple[str, float]]],
    *,
    max_change_rate: float,
    similarity: Callable[[list[str], str], np.ndarray] | None = None,
    min_similarity: float | None = None,
    batch_size: int = 64,
) -> pd.DataFrame:
    """TextFooler-style attack of one model on the given sentences.

    Returns:
        One row per sentence with the columns :data:`ATTACK_COLUMNS`; where the attack did
        not flip the prediction, ``adv_text`` is the perturbed sentence (``success`` False)
        and equals ``text`` only if no substitution was kept.
    """
    rows = []
    for i in tqdm(list(indices), desc="attack", mininterval=10):
        res = textfooler_attack(
            texts[i], predict_proba, neighbours, max_change_rate=max_change_rate,
            similarity=similarity, min_similarity=min_similarity, batch_size=batch_size,
        )
        rows.append({
            "index": int(i), "label": int(labels[i]), "success": bool(res.success),
            "source_label": res.label, "source_adv_label": res.adversarial_label,
            "n_words": res.n_words, "budget": res.budget, "n_changed": res.n_changed,
            "queries": res.queries, "similarity": res.similarity,
            "source_confidence": res.confidence[0], "source_adv_confidence": res.confidence[1],
            "changes": json.dumps([list(c) for c in res.changes]),
            "text": res.original, "adv_text": res.adversarial,
        })
    return pd.DataFrame(rows, columns=list(ATTACK_COLUMNS))


def polarity_swap_rate(attack: pd.DataFrame) -> float:
    """Fraction of successful attacks that swap a word for one of opposite sentiment.

    Uses the review lexicon of :func:`advtransfer.nlp.corpora.word_polarity` (e.g.
    "wonderful" -> "terrible"): such a substitution changes the true label of a review
    instead of fooling the model. Diagnostic for the quality of the candidate space;
    NaN when no attack succeeded.
    """
    done = attack[attack["success"].astype(bool)]
    if done.empty:
        return float("nan")
    swaps = [
        any(corpora.word_polarity(old) * corpora.word_polarity(new) < 0
            for _, old, new in json.loads(changes))
        for changes in done["changes"]
    ]
    return float(np.mean(swaps))


def _cross_entropy(logits: torch.Tensor, labels: np.ndarray) -> np.ndarray:
    y = torch.as_tensor(np.array(labels, dtype=np.int64))
    return nn.functional.cross_entropy(logits.double(), y, reduction="none").numpy()


def text_adversarial_measures(source, reference, attack_source: pd.DataFrame,
                              attack_reference: pd.DataFrame, *, jacobian_points: int = 100,
                              batch_size: int = 64,
                              jacobian_output: str = "centered_logits",
                              jacobian_method: str = "exact",
                              jacobian_memory_mb: float = JACOBIAN_MEMORY_MB) -> dict[str, Any]:
    """Adversarial transferability of one source to the reference (docs/method.md §3, §9.5).

    ``source`` and ``reference`` are :class:`advtransfer.nlp.models.TextClassifier`; the
    attack tables come from :func:`attack_sentences` on the same sentences.

    * ``cross_adv_loss``: mean reference cross-entropy (true labels) on the source's
      adversarial sentences (the perturbed sentence also where the source's attack did not
      flip the source within its word budget);
    * ``reference_adv_loss``: the same under the reference's own attack, and
      ``adv_loss_ratio`` their ratio;
    * ``flip_rate``: fraction of attacked sentences whose reference prediction changes;
      ``flip_rate_successful`` the same among the source's successful attacks;
    * ``source_attack_success``: the source's own attack success rate (fraction of
      sentences whose source prediction flipped within the budget); ``mean_words_changed`` and
      ``mean_change_rate`` over its successful attacks;
    * ``tau1``, ``tau2``, ``alpha``, ``lambda_*`` on embedding Jacobians of the first
      ``jacobian_points`` clean sentences (module docstring), of the output map
      ``jacobian_output``: ``centered_logits`` (default; logits projected orthogonally to
      the all-ones vector, which softmax ignores: :func:`advtransfer.core.tau.center_outputs`),
      ``log_softmax`` or ``logits`` (paper-literal); ``tau2_logits`` is tau2 on the raw
      logit Jacobians, reported beside it for one release;
    * ``jacobian_method``: ``exact`` (default: both models' embedding Jacobians
      ``(N, K, L h)`` are materialised), ``matrix_free`` (products with them only,
      :func:`advtransfer.core.matrixfree.adversarial_transferability_matrix_free`, plus a
      source-only solve for ``tau2_logits``) or ``auto`` (exact while both float32
      Jacobians, ``N (K_S + K_T) L h 4`` bytes, fit in ``jacobian_memory_mb``, as in the
      image scenarios: :func:`advtransfer.images.measures.choose_jacobian_method`); the row
      records the method used and ``n_not_converged`` (0 for ``exact``).
    """
    if jacobian_output not in ("centered_logits", "log_softmax", "logits"):
        raise ValueError(f"unknown jacobian_output {jacobian_output!r}; choose "
                         "centered_logits, log_softmax or logits")
    if not np.array_equal(attack_source["index"].to_numpy(), attack_reference["index"].to_numpy()):
        raise ValueError("the source and reference attacks cover different sentences")
    texts = attack_source["text"].tolist()
    labels = attack_source["label"].to_numpy()
    ref_clean = reference.logits(texts, batch_size)
    ref_src = reference.logits(attack_source["adv_text"].tolist(), batch_size)
    ref_own = reference.logits(attack_reference["adv_text"].tolist(), batch_size)
    loss_clean, loss_src = _cross_entropy(ref_clean, labels), _cross_entropy(ref_src, labels)
    loss_own = _cross_entropy(ref_own, labels)
    flip = (ref_src.argmax(1) != ref_clean.argmax(1)).numpy()
    success = attack_source["success"].to_numpy(bool)
    cross, own = float(loss_src.mean()), float(loss_own.mean())
    out: dict[str, Any] = {
        "cross_adv_loss": cross,
        "reference_adv_loss": own,
        "adv_loss_ratio": cross / own if own > 0 else float("nan"),
        "reference_clean_loss": float(loss_clean.mean()),
        "reference_clean_accuracy": float((ref_clean.argmax(1).numpy() == labels).mean()),
        "reference_adv_accuracy": float((ref_src.argmax(1).numpy() == labels).mean()),
        "flip_rate": float(flip.mean()),
        "flip_rate_successful": float(flip[success].mean()) if success.any() else float("nan"),
        "reference_self_success_rate": float(attack_reference["success"].mean()),
        "source_attack_success": float(success.mean()),
        "mean_words_changed": float(attack_source.loc[success, "n_changed"].mean())
        if success.any() else 0.0,
        "mean_change_rate": float((attack_source["n_changed"] / attack_source["n_words"]
                                   .clip(lower=1))[success].mean()) if success.any() else 0.0,
        "mean_queries": float(attack_source["queries"].mean()),
        "polarity_swap_rate": polarity_swap_rate(attack_source),
        "attack_sentences": len(texts),
    }
    m = min(int(jacobian_points), len(texts))
    shared = (source.tokenizer.get_vocab() == reference.tokenizer.get_vocab()
              and source.max_length == reference.max_length)
    if not shared:
        raise ValueError("source and reference use different tokenizers or lengths; tau1 / "
                         "tau2 need one input space")
    same_e = torch.equal(source.word_embeddings().detach().cpu(),
                         reference.word_embeddings().detach().cpu())
    chosen = _choose_text_method(jacobian_method, source, reference, texts[:m],
                                 jacobian_memory_mb)
    if chosen == "exact":
        res, raw_tau2, n_bad = _text_tau_exact(source, reference, texts[:m], jacobian_output,
                                               batch_size, ref_clean[:m])
    else:
        res, raw_tau2, n_bad = _text_tau_matrix_free(source, reference, texts[:m],
                                                     jacobian_output, same_e)
    out.update(
        tau1=float(res["tau1"]), tau2=float(res["tau2"]), tau2_logits=float(raw_tau2),
        alpha=float(res["alpha"]),
        lambda_source=float(res["lambda_source"]), lambda_reference=float(res["lambda_target"]),
        jacobian_points=m, tau_input_space="shared_word_embeddings" if same_e
        else "own_word_embeddings", jacobian_method=chosen, n_not_converged=n_bad,
    )
    return out


def _choose_text_method(method: str, source, reference, texts: Sequence[str],
                        memory_mb: float) -> str:
    """``exact`` or ``matrix_free`` for ``jacobian_method`` (``auto`` decides by memory)."""
    if method not in TEXT_JACOBIAN_METHODS:
        raise ValueError(f"unknown jacobian_method {method!r}; choose one of "
                         f"{TEXT_JACOBIAN_METHODS}")
    if method != "auto":
        return method
    # image measures pull in scikit-learn (probes); attack jobs import this module without it
    from advtransfer.images.measures import choose_jacobian_method  # noqa: PLC0415

    n_inputs = source.max_length * source.word_embeddings().shape[1]
    return choose_jacobian_method(method, len(texts), source.num_labels, reference.num_labels,
                                  n_inputs, memory_mb)


def _text_tau_exact(source, reference, texts: Sequence[str], jacobian_output: str,
                    batch_size: int, ref_logits: torch.Tensor
                    ) -> tuple[dict[str, torch.Tensor], float, int]:
    """tau measures on materialised embedding Jacobians, and tau2 on the raw logits."""
    raw_s = source.embedding_jacobians(texts).double()
    raw_r = reference.embedding_jacobians(texts).double()
    z_s = z_r = None
    if jacobian_output == "log_softmax":
        z_s, z_r = source.logits(texts, batch_size).detach(), ref_logits.detach()
    res = tau.adversarial_transferability(tau.output_jacobians(raw_s, jacobian_output, z_s),
                                          tau.output_jacobians(raw_r, jacobian_output, z_r))
    raw_tau2 = (res["tau2"] if jacobian_output == "logits"
                else tau.adversarial_transferability(raw_s, raw_r)["tau2"])
    return res, float(raw_tau2), 0


class _EmbeddingMap(nn.Module):
    """A text classifier as a function of word embeddings, for the matrix-free path.

    The input ``x (B, L, C)`` carries, per token, the source's word embedding ``z`` in the
    first ``h`` channels, then (``offset``) ``E_model[token] - z`` (``h`` channels, only
    where the models' embeddings differ), then the integer model inputs (attention mask,
    token types) and the word mask as constant channels: a batch is self-contained, as
    the row tiling of :class:`advtransfer.core.matrixfree.LinearizedModel` needs. Only the
    ``z`` channels of word tokens reach the model differentiably, so the Jacobian is that of
    :meth:`advtransfer.nlp.models.TextClassifier.embedding_jacobians` on those channels
    and zero elsewhere (every tau measure is unchanged by zero columns).
    """

    def __init__(self, classifier, hidden: int, keys: Sequence[str], offset: bool,
                 use_offset: bool) -> None:
        super().__init__()
        self.model, self.hidden, self.keys = classifier.model, hidden, tuple(keys)
        self.offset, self.use_offset = offset, use_offset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.hidden
        z = x[..., :h]
        if self.use_offset:
            z = z + x[..., h : 2 * h].detach()
        rest = x[..., 2 * h if self.offset else h :].detach()
        words = rest[..., -1:]
        z = z * words + z.detach() * (1 - words)  # gradients of word tokens only
        inputs = {k: rest[..., i].round().long() for i, k in enumerate(self.keys)}
        # the math attention kernel: the fused ones have no forward-mode derivative (JVP)
        with sdpa_kernel(SDPBackend.MATH):
            return self.model(inputs_embeds=z, **inputs).logits


def _text_tau_matrix_free(source, reference, texts: Sequence[str], jacobian_output: str,
                          same_e: bool) -> tuple[dict[str, torch.Tensor], float, int]:
    """tau measures from embedding-Jacobian products (no Jacobian is formed)."""
    from advtransfer.core.matrixfree import (  # noqa: PLC0415
        adversarial_transferability_matrix_free,
        tau2_matrix_free,
    )

    source.model.eval()
    reference.model.eval()
    enc = source.encode(texts, pad_to_max=True)
    keys = [k for k in source._model_inputs(enc) if k != "input_ids"]
    with torch.no_grad():
        z = source.model.get_input_embeddings()(enc["input_ids"]).float()
        parts = [z]
        if not same_e:
            parts.append(reference.model.get_input_embeddings()(enc["input_ids"]).float() - z)
        words = enc["attention_mask"].bool() & ~enc["special_tokens_mask"].bool()
        parts += [enc[k].unsqueeze(-1).float() for k in keys] + [words.unsqueeze(-1).float()]
        x = torch.cat(parts, dim=-1)
    hidden = z.shape[-1]
    s_map = _EmbeddingMap(source, hidden, keys, not same_e, False)
    r_map = _EmbeddingMap(reference, hidden, keys, not same_e, not same_e)
    res = adversarial_transferability_matrix_free(s_map, r_map, x, batch_size=8,
                                                  output=jacobian_output)
    n_bad = int(res["n_not_converged"])
    raw_tau2 = float(res["tau2"])
    if jacobian_output != "logits":
        raw_tau2 = float(tau2_matrix_free(s_map, r_map, x, batch_size=8)[0])
    return res, raw_tau2, n_bad


def adam_linear_probe(train_x: torch.Tensor, train_y: np.ndarray, test_x: torch.Tensor,
                      test_y: np.ndarray, *, num_classes: int, lr: float, epochs: int,
                      batch_size: int, seed: int) -> dict[str, float]:
    """A new linear layer on frozen features trained with Adam (the paper's NLP probe).

    Plain cross-entropy, mini-batches in a seeded order, no feature scaling; returns test
    ``accuracy`` and mean ``loss``.
    """
    gen = torch.Generator().manual_seed(seed)
    layer = nn.Linear(train_x.shape[1], num_classes)
    with torch.no_grad():  # seeded default initialisation
        bound = 1.0 / np.sqrt(train_x.shape[1])
        layer.weight.uniform_(-bound, bound, generator=gen)
        layer.bias.uniform_(-bound, bound, generator=gen)
    opt = torch.optim.Adam(layer.parameters(), lr=lr)
    y = torch.as_tensor(train_y, dtype=torch.long)
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=gen)
        for begin in range(0, len(y), batch_size):
            idx = order[begin : begin + batch_size]
            loss = nn.functional.cross_entropy(layer(train_x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        logits = layer(test_x)
    yt = torch.as_tensor(test_y, dtype=torch.long)
    correct = (logits.argmax(1) == yt).double()
    accuracy = float(correct.mean())
    return {"accuracy": accuracy,
            # bootstrap-over-test-texts standard error of the accuracy (see probes.evaluate)
            "accuracy_se": float(((correct - accuracy) ** 2).mean().sqrt() / len(yt) ** 0.5),
            "loss": float(nn.functional.cross_entropy(logits, yt)), "n": int(len(yt))}


def text_knowledge_measures(source, train: tuple[Sequence[str], np.ndarray],
                            test: tuple[Sequence[str], np.ndarray], *, num_classes: int,
                            probe: Mapping[str, Any], batch_size: int = 64,
                            val: tuple[Sequence[str], np.ndarray] | None = None
                            ) -> dict[str, Any]:
    """Linear probe of the frozen source encoder on the target (docs/method.md §6, §9.5).

    Features are the input of the source's last linear layer (pooled [CLS] for BERT), in
    eval mode. ``probe["method"]``: ``logistic`` fits an exact multinomial logistic
    regression (L-BFGS, :func:`advtransfer.core.probes.fit_linear_probe`); ``adam`` trains a
    linear layer with Adam (``lr``, ``epochs``, ``batch_size``), as in the paper. With
    ``probe["C_grid"]`` the logistic probe's C is the grid value of lowest loss on ``val``
    (the target validation sentences; without them, 20 % of the training sentences), never
    on the test split, and is reported as ``probe_C``. With ``probe["kshot"]`` a k-shot
    logistic probe (fixed ``C``) is added.
    """
    from advtransfer.core import probes  # noqa: PLC0415 - scikit-learn only here; attack jobs skip it

    f_train = source.features(list(train[0]), batch_size)
    f_test = source.features(list(test[0]), batch_size)
    y_train, y_test = np.asarray(train[1]), np.asarray(test[1])
    if probe["method"] == "adam":
        full = adam_linear_probe(f_train, y_train, f_test, y_test, num_classes=num_classes,
                                 lr=probe["lr"], epochs=probe["epochs"],
                                 batch_size=probe["batch_size"], seed=probe["seed"])
    elif probe["method"] == "logistic":
        probe_c = float(probe["C"])
        if probe.get("C_grid"):
            f_val = y_val = None
            if val is not None and len(val[1]) > 0:
                f_val, y_val = source.features(list(val[0]), batch_size).numpy(), np.asarray(val[1])
            probe_c = float(probes.choose_C_by_validation(
                f_train.numpy(), y_train, f_val, y_val, grid=list(probe["C_grid"]))["C"])
        fitted = probes.fit_linear_probe(f_train.numpy(), y_train, C=probe_c)
        full = fitted.evaluate(f_test.numpy(), y_test)
    else:
        raise ValueError(f"unknown probe method {probe['method']!r}")
    out: dict[str, Any] = {
        "probe_accuracy": float(full["accuracy"]),
        "probe_accuracy_se": float(full["accuracy_se"]),
        "probe_test_n": int(full["n"]),
        "probe_loss": float(full["loss"]),
        "probe_method": probe["method"],
        "probe_C": probe_c if probe["method"] == "logistic" else float("nan"),
        "feature_dim": int(f_train.shape[1]),
    }
    kshot = probe.get("kshot")
    if kshot:
        k = int(min(kshot["k"], np.bincount(y_train, minlength=num_classes).min()))
        few = probes.kshot_probe(f_train.numpy(), y_train, f_test.numpy(), y_test, k=k,
                                 draws=kshot["draws"], seed=kshot["seed"], C=probe["C"])
        out.update(kshot_k=k, kshot_accuracy=float(few["accuracy_mean"]),
                   kshot_accuracy_std=float(few["accuracy_std"]),
                   kshot_loss=float(few["loss_mean"]))
    return out


def relabel_for_text(fig) -> None:
    """Replace image wording on the axes of the shared figures by text wording."""
    from advtransfer.plots import MEASURE_LABELS  # noqa: PLC0415 - matplotlib only when plotting

    swap = {MEASURE_LABELS[k]: v for k, v in NLP_LABELS.items() if k in MEASURE_LABELS}
    for ax in fig.axes:
        for get, put in ((ax.get_xlabel, ax.set_xlabel), (ax.get_ylabel, ax.set_ylabel)):
            label = get()
            if label in swap:
                put(swap[label])
