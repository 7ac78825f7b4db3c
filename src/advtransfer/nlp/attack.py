"""A self-contained TextFooler-style word-substitution attack (Jin et al., AAAI 2020).

Used by the NLP scenario (Liang et al. §4.2; docs/method.md §9.5). TextAttack's TextFooler cannot
run offline (it downloads word vectors, NLTK data and the Universal Sentence Encoder), so
the attack is written here against three plain callables:

* ``predict_proba(texts) -> (B, K)`` class probabilities of the attacked model;
* ``neighbours(word) -> [(candidate, cosine), ...]`` substitution candidates, best first
  (:class:`EmbeddingNeighbours` builds them from counter-fitted vectors or from a
  model's input token embeddings);
* optionally ``similarity(texts, original) -> (B,)`` sentence similarity (e.g. cosine of
  mean-pooled encoder embeddings).

Algorithm (TextFooler §2, without the part-of-speech filter, which needs NLTK data):

1. ``y0 = argmax f(x)``: the attacked model's own clean prediction (label-free).
2. Word importance by deletion, for every non-stop word ``w_i``:
   ``I_i = f_y0(x) - f_y0(x \\ w_i)`` if the prediction stays ``y0``, else
   ``I_i = f_y0(x) - f_y0(x \\ w_i) + f_y'(x \\ w_i) - f_y'(x)`` with ``y'`` the new class.
3. In order of decreasing importance, replace ``w_i`` by each candidate of
   ``neighbours(w_i)`` (stop words never replace or get replaced), keeping the candidates
   whose sentence similarity to the original is at least ``min_similarity``. If one of
   them flips the prediction, keep the most similar flipping candidate and stop;
   otherwise keep the candidate that lowers ``f_y0`` most (if it lowers it at all) and
   go on to the next word.
4. At most ``floor(max_change_rate * n_words)`` words are changed (TextFooler's 10 %
   perturbation ratio; ``n_words`` counts every word, stop words included).
5. If the prediction never flips within the budget, the perturbed text (every kept
   substitution, each of which lowered ``f_y0``) is returned with ``success = False``, as
   TextFooler does: it is still the attack's best effort, and a transfer measure must see
   it. Only when no substitution was kept is it the original.

Pure logic: no model, file or network access of its own; deterministic for deterministic
callables (candidates are tried in the order given, ties keep the first).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from advtransfer.core.checks import check_batch_size

__all__ = [
    "STOP_WORDS",
    "WORD_PATTERN",
    "TextAttackResult",
    "EmbeddingNeighbours",
    "word_spans",
    "change_budget",
    "deletion_importance",
    "textfooler_attack",
]

#: TextFooler's stop-word list (Jin et al. 2020, attack_classification.py): never replaced
#: and never used as substitutes. It keeps negations ("not", "no", "never").
STOP_WORDS: frozenset[str] = frozenset("""
a about above across after afterwards again against ain all almost alone along already
also although am among amongst an and another any anyhow anyone anything anyway anywhere
are aren aren't around as at back been before beforehand behind being below beside
besides between beyond both but by can cannot could couldn couldn't d didn didn't doesn
doesn't don don't down due during either else elsewhere empty enough even ever everyone
everything everywhere except first for former formerly from hadn hadn't hasn hasn't haven
haven't he hence her here hereafter hereby herein hereupon hers herself him himself his how
however hundred i if in indeed into is isn isn't it it's its itself just latter latterly
least ll may me meanwhile mightn mightn't mine more moreover most mostly must mustn
mustn't my myself namely needn needn't neither never nevertheless next no nobody none
noone nor not nothing now nowhere o of off on once one only onto or other others otherwise
our ours ourselves out over per please s same shan shan't she she's should've shouldn
shouldn't somehow something sometime somewhere such t than that that'll the their theirs
them themselves then thence there thereafter thereby therefore therein thereupon these they
this those through throughout thru thus to too toward towards under unless until up upon
used ve was wasn wasn't we were weren weren't what whatever when whence whenever where
whereafter whereas whereby wherein whereupon wherever whether which while whither who
whoever whole whom whose why with within without would y yet you you'd you'll you're
you've your yours yourself yourselves
""".split())

#: A word: letters, optionally with one apostrophe part ("don't", "film's").
WORD_PATTERN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")

Neighbours = Callable[[str], Sequence[tuple[str, float]]]
Predict = Callable[[list[str]], np.ndarray]
Similarity = Callable[[list[str], str], np.ndarray]


@dataclass(frozen=True)
class TextAttackResult:
    """Outcome of :func:`textfooler_attack` on one text.

    Attributes:
        original: the clean text.
        adversarial: the perturbed text: the adversarial example if the attack succeeded,
            otherwise the text with every kept substitution (``original`` if none was kept).
        success: whether the prediction flipped within the budget.
        label: the attacked model's clean prediction ``y0``.
        adversarial_label: its prediction on ``adversarial``.
        n_words: number of words of the original.
        budget: most words the attack may change.
        changes: ``(word index, old word, new word)`` of the returned text (empty when it
            is the original).
        queries: calls of the model on single texts (batched calls count each text).
        similarity: sentence similarity of ``adversarial`` to the original (1.0 if
            unchanged; NaN when no similarity function was given).
        confidence: ``(f_y0(original), f_y0(adversarial))``.
    """

    original: str
    adversarial: str
    success: bool
    label: int
    adversarial_label: int
    n_words: int
    budget: int
    changes: tuple[tuple[int, str, str], ...] = field(default_factory=tuple)
    queries: int = 0
    similarity: float = float("nan")
    confidence: tuple[float, float] = (float("nan"), float("nan"))

    @property
    def n_changed(self) -> int:
        """Number of words changed in :attr:`adversarial`."""
        return len(self.changes)


def word_spans(text: str) -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of the words of ``text`` (:data:`WORD_PATTERN`)."""
    return [m.span() for m in WORD_PATTERN.finditer(text)]


def change_budget(n_words: int, max_change_rate: float) -> int:
    """Most words that may change: ``floor(max_change_rate * n_words)`` (never rounded up).

    A 9-word text at 10 % may change no word; ``max_change_rate = 0`` changes nothing.
    """
    if n_words < 0:
        raise ValueError(f"n_words must be >= 0, got {n_words}")
    if not 0.0 <= max_change_rate <= 1.0:
        raise ValueError(f"max_change_rate must be in [0, 1], got {max_change_rate}")
    return math.floor(max_change_rate * n_words + 1e-9)


def _render(text: str, spans: Sequence[tuple[int, int]], words: Sequence[str]) -> str:
    """``text`` with word ``i`` (at ``spans[i]``) replaced by ``words[i]``; '' deletes it."""
    pieces, last = [], 0
    for (start, end), word in zip(spans, words):
        pieces.append(text[last:start])
        pieces.append(word)
        last = end
    pieces.append(text[last:])
    out = "".join(pieces)
    return re.sub(r"\s{2,}", " ", out).strip() if any(w == "" for w in words) else out


def _match_case(template: str, word: str) -> str:
    if template.isupper() and len(template) > 1:
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def _predict(predict_proba: Predict, texts: list[str], batch_size: int) -> np.ndarray:
    out = [np.asarray(predict_proba(texts[i : i + batch_size]), dtype=np.float64)
           for i in range(0, len(texts), batch_size)]
    probs = np.concatenate(out, axis=0)
    if probs.ndim != 2 or probs.shape[0] != len(texts):
        raise ValueError(f"predict_proba must return (B, K) probabilities, got {probs.shape}")
    return probs


def deletion_importance(probs_clean: np.ndarray, probs_deleted: np.ndarray) -> np.ndarray:
    """TextFooler's word importance from deletion (step 2 of the module docstring).

    Args:
        probs_clean: ``(K,)`` probabilities on the clean text.
        probs_deleted: ``(W, K)`` probabilities with word ``i`` deleted.

    Returns:
        ``(W,)`` importance scores (higher = more important).
    """
    y0 = int(np.argmax(probs_clean))
    drop = probs_clean[y0] - probs_deleted[:, y0]
    new = probs_deleted.argmax(axis=1)
    gain = probs_deleted[np.arange(len(new)), new] - probs_clean[new]
    return np.where(new != y0, drop + gain, drop)


def _importance_order(
    text: str, spans: list[tuple[int, int]], words: list[str], attackable: list[int],
    probs0: np.ndarray, predict_proba: Predict, batch_size: int,
) -> list[int]:
    """Attackable word indices, most important first (deletion importance, step 2)."""
    deleted = []
    for i in attackable:
        current = list(words)
        current[i] = ""
        deleted.append(_render(text, spans, current))
    importance = deletion_importance(probs0, _predict(predict_proba, deleted, batch_size))
    return [attackable[j] for j in np.argsort(-importance, kind="stable")]


def _substitutes(word: str, neighbours: Neighbours, stop: frozenset[str]) -> list:
    """Candidate substitutes of ``word``: neighbours that are words, not stop words."""
    return [(c, s) for c, s in neighbours(word.lower())
            if c.lower() not in stop and c.lower() != word.lower() and WORD_PATTERN.fullmatch(c)]


def _try_substitutes(
    text: str, spans: list[tuple[int, int]], current: list[str], i: int, candidates: list,
    predict_proba: Predict, similarity: Similarity | None, min_similarity: float | None,
    batch_size: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Probabilities, sentence similarities and the similarity filter of every candidate
    substitution at word ``i`` (step 4)."""
    trial_texts = []
    for cand, _ in candidates:
        trial = list(current)
        trial[i] = _match_case(text[spans[i][0]:spans[i][1]], cand)
        trial_texts.append(_render(text, spans, trial))
    probs = _predict(predict_proba, trial_texts, batch_size)
    keep = np.ones(len(trial_texts), dtype=bool)
    sims = np.full(len(trial_texts), np.nan)
    if similarity is not None:
        sims = np.asarray(similarity(trial_texts, text), dtype=np.float64)
        if min_similarity is not None:
            keep = sims >= min_similarity
    return probs, sims, keep


def _result(
    text: str, spans: list[tuple[int, int]], current: list[str],
    changes: dict[int, tuple[str, str]], *, success: bool, label: int, adversarial_label: int,
    budget: int, queries: int, similarity: float, confidence: tuple[float, float],
) -> TextAttackResult:
    """The attack's outcome with the words as they stand in ``current``."""
    return TextAttackResult(
        original=text, adversarial=_render(text, spans, current), success=success,
        label=label, adversarial_label=adversarial_label, n_words=len(spans), budget=budget,
        changes=tuple((k, old, new) for k, (old, new) in sorted(changes.items())),
        queries=queries, similarity=similarity, confidence=confidence,
    )


def _best_flip(probs: np.ndarray, sims: np.ndarray, keep: np.ndarray, y0: int,
               by_similarity: bool) -> int | None:
    """Among kept candidates that flip the label, the most similar one (or, without a
    similarity, the one with the lowest original-class probability); None if none flips."""
    flipped = keep & (probs.argmax(axis=1) != y0)
    if not flipped.any():
        return None
    score = sims if by_similarity else -probs[:, y0]
    return int(np.flatnonzero(flipped)[np.argmax(score[flipped])])


def textfooler_attack(
    text: str,
    predict_proba: Predict,
    neighbours: Neighbours,
    *,
    max_change_rate: float = 0.1,
    similarity: Similarity | None = None,
    min_similarity: float | None = None,
    stop_words: Iterable[str] = STOP_WORDS,
    batch_size: int = 64,
) -> TextAttackResult:
    """Attack one text with greedy word substitution (module docstring, steps 1-5).

    Args:
        text: the clean text.
        predict_proba: texts -> ``(B, K)`` probabilities of the attacked model.
        neighbours: word (lower case) -> substitution candidates ``[(word, cosine)]``,
            best first.
        max_change_rate: largest fraction of words that may change, in [0, 1].
        similarity: optional ``(texts, original) -> (B,)`` sentence similarity.
        min_similarity: candidates with a lower similarity are discarded (needs
            ``similarity``; ``None`` keeps all).
        stop_words: words never replaced and never used as substitutes (lower case).
        batch_size: texts per call of ``predict_proba``.

    Returns:
        :class:`TextAttackResult`.

    Raises:
        ValueError: bad ``max_change_rate``, ``batch_size`` or ``min_similarity`` without
            ``similarity``.
    """
    check_batch_size(batch_size)
    if min_similarity is not None and similarity is None:
        raise ValueError("min_similarity needs a similarity function")
    stop = frozenset(w.lower() for w in stop_words)
    spans = word_spans(text)
    words = [text[s:e] for s, e in spans]
    budget = change_budget(len(words), max_change_rate)
    probs0 = _predict(predict_proba, [text], batch_size)[0]
    y0 = int(np.argmax(probs0))
    queries = 1

    attackable = [i for i, w in enumerate(words) if w.lower() not in stop]
    order: list[int] = []
    if budget > 0 and attackable:
        order = _importance_order(text, spans, words, attackable, probs0, predict_proba,
                                  batch_size)
        queries += len(attackable)

    current = list(words)
    changes: dict[int, tuple[str, str]] = {}
    p_current = float(probs0[y0])
    label_current = y0
    sim_current = 1.0 if similarity is not None else float("nan")
    for i in order:
        if len(changes) >= budget:
            break
        candidates = _substitutes(words[i], neighbours, stop)
        if not candidates:
            continue
        probs, sims, keep = _try_substitutes(
            text, spans, current, i, candidates, predict_proba, similarity, min_similarity,
            batch_size,
        )  # fmt: skip
        queries += len(candidates)
        if not keep.any():
            continue
        pick = _best_flip(probs, sims, keep, y0, similarity is not None)
        if pick is not None:
            current[i] = _match_case(words[i], candidates[pick][0])
            changes[i] = (words[i], current[i])
            return _result(
                text, spans, current, changes, success=True, label=y0,
                adversarial_label=int(probs[pick].argmax()), budget=budget, queries=queries,
                similarity=float(sims[pick]),  # NaN without a similarity function
                confidence=(float(probs0[y0]), float(probs[pick, y0])),
            )  # fmt: skip
        masked = np.where(keep, probs[:, y0], np.inf)
        pick = int(np.argmin(masked))
        if masked[pick] < p_current:
            current[i] = _match_case(words[i], candidates[pick][0])
            changes[i] = (words[i], current[i])
            p_current = float(masked[pick])
            label_current = int(probs[pick].argmax())
            sim_current = float(sims[pick])
    # budget spent (or words exhausted) without a flip: keep the perturbed text, as
    # TextFooler does (with no substitution kept, that is the original text)
    return _result(
        text, spans, current, changes, success=False, label=y0,
        adversarial_label=label_current, budget=budget, queries=queries,
        similarity=sim_current, confidence=(float(probs0[y0]), p_current),
    )  # fmt: skip


_NEGATING_PREFIXES = ("un", "in", "im", "il", "ir", "dis", "non", "non-")


def _negated_pair(a: str, b: str) -> bool:
    """Whether one word is the other with a negating prefix ("pleasant", "unpleasant")."""
    a, b = a.lower(), b.lower()
    return any(a == p + b or b == p + a for p in _NEGATING_PREFIXES)


class EmbeddingNeighbours:
    """Nearest neighbours by cosine similarity in a word-vector space.

    TextFooler draws candidates from counter-fitted word vectors (synonyms close,
    antonyms pushed apart). Without such a file, a model's own input token embeddings
    serve (restricted to whole-word vocabulary entries); they also place antonyms
    ("good", "bad") close together, which the sentence-similarity filter only partly
    catches.

    Args:
        words: the vocabulary, one word per row of ``vectors``.
        vectors: ``(V, dim)`` word vectors.
        k: candidates returned per word (TextFooler: 50).
        min_cosine: candidates below this cosine similarity are dropped (TextFooler: 0.5).
        exclude: words never returned (e.g. stop words).
        drop_negated_forms: also drop candidates that are the word with a negating
            prefix added or removed ("pleasant" / "unpleasant", "able" / "unable"): the
            commonest antonyms among raw embedding neighbours.

    Calling the object with a word returns ``[(neighbour, cosine), ...]`` sorted by
    decreasing cosine (ties by word), without the word itself; unknown words give ``[]``.
    """

    def __init__(self, words: Sequence[str], vectors: Tensor | np.ndarray, *, k: int = 50,
                 min_cosine: float = 0.5, exclude: Iterable[str] = (),
                 drop_negated_forms: bool = False) -> None:
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        vecs = torch.as_tensor(np.asarray(vectors) if not isinstance(vectors, Tensor)
                               else vectors.detach().cpu(), dtype=torch.float32)
        if vecs.ndim != 2 or vecs.shape[0] != len(words):
            raise ValueError(f"vectors must be (len(words), dim), got {tuple(vecs.shape)} "
                             f"for {len(words)} words")
        self.words = list(words)
        self.index = {w: i for i, w in enumerate(self.words)}
        self.unit = torch.nn.functional.normalize(vecs, dim=1)
        self.k, self.min_cosine = int(k), float(min_cosine)
        self.drop_negated_forms = bool(drop_negated_forms)
        excluded = {w.lower() for w in exclude}
        self.allowed = torch.tensor([w.lower() not in excluded for w in self.words])
        self._cache: dict[str, list[tuple[str, float]]] = {}

    def __call__(self, word: str) -> list[tuple[str, float]]:
        if word in self._cache:
            return self._cache[word]
        row = self.index.get(word)
        if row is None:
            return []
        cos = self.unit @ self.unit[row]
        cos = torch.where(self.allowed, cos, torch.full_like(cos, -2.0))
        cos[row] = -2.0
        top = torch.topk(cos, min(self.k, cos.numel()))
        found = [(self.words[int(j)], float(c)) for c, j in zip(top.values, top.indices)
                 if float(c) >= self.min_cosine]
        if self.drop_negated_forms:
            found = [(w, c) for w, c in found if not _negated_pair(word, w)]
        found.sort(key=lambda item: (-round(item[1], 6), item[0]))
        self._cache[word] = found
        return found
