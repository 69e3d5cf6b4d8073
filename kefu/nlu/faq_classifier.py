"""The FAQ entry classifier: the intent classifier's features and SVM over an FAQ's forms.

The knowledge index decides when one is trained and how it is fused
(``kefu.knowledge.faq_classifier``); this is the model. Each FAQ entry is a class and its
forms (标准问 + 相似问) are its examples. Features are the intent classifier's own
(``TextFeatures``: character n-grams within words and word n-grams, each block TF-IDF and
L2-normalised) next to the sentence vectors the index already computed for the forms, so
training embeds nothing and a query costs its n-grams and one small matrix product
(its vector is the one retrieval computed). The linear SVM and the temperature fit are the
intent classifier's.

For an English FAQ the index may add a second encoder's form vectors (the English MiniLM,
``extra``): one more dense block, weighted ``EXTRA_WEIGHT`` (the intent classifier's MiniLM
weight, measured there on BANKING77 and CLINC150). A query without that vector (another
language, or the encoder failed) scores the block as zero: the n-grams and the first
vector decide.

``EMBEDDING_WEIGHT`` and ``REGULARIZATION`` were chosen by ``bench/faq_classifier_fit.py``
on BANKING77 *training* utterances that are not FAQ variants (the test split unread).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from kefu.knowledge.faq_classifier import TrainingSet
from kefu.nlu.intent.calibration import fit_temperature

# The intent classifier's linear SVM fit (its class weights and bias), shared as is.
from kefu.nlu.intent.classifier import _fit_svm as fit_svm
from kefu.nlu.intent.features import TextFeatures

__all__ = [
    "EMBEDDING_WEIGHT",
    "EXTRA_WEIGHT",
    "MAX_PARAMETERS",
    "REGULARIZATION",
    "FaqEntryClassifier",
    "FaqEntryTrainer",
]

EMBEDDING_WEIGHT = 2.0  # the sentence vector's weight next to the unit n-gram blocks
REGULARIZATION = 0.5  # the SVM's C
EXTRA_WEIGHT = 2.0  # the second encoder's vector weight (the intent classifier's MiniLM 2)
# Entries × features kept in memory at most (float32: 20 MB); a larger FAQ keeps retrieval
# alone. BANKING77 as an FAQ: 77 × ~10.8k.
MAX_PARAMETERS = 5_000_000
_FEATURES_FILE = "features.json"
_WEIGHTS_FILE = "weights.npz"


class FaqEntryClassifier:
    """Margins per FAQ entry for a query and its sentence vector."""

    def __init__(
        self,
        features: TextFeatures,
        ngram_weights: npt.NDArray[np.float32],
        vector_weights: npt.NDArray[np.float32],
        bias: npt.NDArray[np.float32],
        embedding_weight: float,
        extra_weights: npt.NDArray[np.float32] | None = None,
        extra_weight: float = 0.0,
    ) -> None:
        if ngram_weights.shape[1] != features.width:
            raise ValueError("the classifier's weights do not fit its features")
        self._features = features
        # Transposed and contiguous once: a query is one sparse and one dense product.
        self._ngram_weights = np.ascontiguousarray(ngram_weights.T)
        self._vector_weights = np.ascontiguousarray(vector_weights.T * embedding_weight)
        self._ngram_rows = ngram_weights
        self._vector_rows = vector_weights
        self._bias = bias
        self.embedding_weight = embedding_weight
        self._extra_rows = extra_weights
        self._extra_weights = (
            None if extra_weights is None else np.ascontiguousarray(extra_weights.T * extra_weight)
        )
        self.extra_weight = extra_weight

    @property
    def extra_dim(self) -> int:
        """The second encoder's dimension (0: the classifier reads one encoder)."""
        return 0 if self._extra_rows is None else int(self._extra_rows.shape[1])

    @property
    def entries(self) -> int:
        return len(self._bias)

    def scores(
        self, texts: Sequence[str], vectors: np.ndarray, extra: np.ndarray | None = None
    ) -> np.ndarray:
        """texts × entries SVM margins (``vectors``: the texts' unit sentence vectors;
        ``extra``: their second encoder's vectors, None or zero rows: not known)."""
        ngrams = self._features.transform(texts)
        result: np.ndarray = (
            np.asarray(ngrams @ self._ngram_weights)
            + np.asarray(vectors, dtype=np.float32) @ self._vector_weights
            + self._bias
        )
        if self._extra_weights is not None and extra is not None:
            result = result + np.asarray(extra, dtype=np.float32) @ self._extra_weights
        return result

    def save(self, folder: Path) -> None:
        state = {
            "embedding_weight": self.embedding_weight,
            "extra_weight": self.extra_weight,
            "blocks": self._features.state(),
        }
        (folder / _FEATURES_FILE).write_text(json.dumps(state, ensure_ascii=False), "utf-8")
        none = np.zeros((0, 0), np.float32)  # (0, 0): no second encoder
        np.savez(
            folder / _WEIGHTS_FILE,
            ngram_weights=self._ngram_rows,
            vector_weights=self._vector_rows,
            bias=self._bias,
            extra_weights=self._extra_rows if self._extra_rows is not None else none,
        )


class FaqEntryTrainer:
    """Trains :class:`FaqEntryClassifier` s (``kefu.knowledge.faq_classifier``'s trainer)."""

    name = "SVM over n-grams + sentence vectors"

    def __init__(
        self,
        embedding_weight: float = EMBEDDING_WEIGHT,
        regularization: float = REGULARIZATION,
        max_parameters: int = MAX_PARAMETERS,
        *,
        in_child: bool = False,
        extra_weight: float = EXTRA_WEIGHT,
    ) -> None:
        self.embedding_weight = embedding_weight
        self.extra_weight = extra_weight
        self.regularization = regularization
        self.max_parameters = max_parameters
        # Train in a child process (``kefu serve``, as for intents), so the server never
        # loads scikit-learn (~110 MB); scoring and loading need only numpy.
        self.in_child = in_child

    def train(self, sets: Sequence[TrainingSet]) -> list[FaqEntryClassifier | None]:
        """One classifier per set (see :meth:`train_one`), in a child process if asked."""
        if self.in_child and sets:
            from kefu.nlu.faq_classifier_child import train_in_child

            return train_in_child(self, sets)
        return [self.train_one(s.forms, s.entries, s.vectors, s.extra) for s in sets]

    def train_one(
        self,
        forms: Sequence[str],
        entries: np.ndarray,
        vectors: np.ndarray,
        extra: np.ndarray | None = None,
    ) -> FaqEntryClassifier | None:
        """Fit on ``forms`` labelled with their entry numbers (0 … E-1, every one present),
        with their second encoder's vectors ``extra`` as one more block if given; None when
        the classifier would hold more than ``max_parameters`` weights."""
        features = TextFeatures(char=True, word=True, pos=False, embedder=None)
        ngrams = features.fit_transform(forms)
        count = int(entries.max()) + 1 if len(entries) else 0
        extra_dim = 0 if extra is None else extra.shape[1]
        width = features.width + vectors.shape[1] + extra_dim
        if count < 2 or count * width > self.max_parameters:
            return None
        if len(np.unique(entries)) != count:
            raise ValueError("every entry needs at least one form")
        blocks = [
            ngrams,
            sp.csr_matrix(np.asarray(vectors, dtype=np.float32) * self.embedding_weight),
        ]
        if extra is not None:
            blocks.append(sp.csr_matrix(np.asarray(extra, dtype=np.float32) * self.extra_weight))
        weights, bias = fit_svm(sp.hstack(blocks, format="csr"), entries, self.regularization)
        ngram_end = features.width
        vector_end = ngram_end + vectors.shape[1]
        return FaqEntryClassifier(
            features,
            weights[:, :ngram_end],
            weights[:, ngram_end:vector_end],
            bias,
            self.embedding_weight,
            weights[:, vector_end:] if extra is not None else None,
            self.extra_weight if extra is not None else 0.0,
        )

    def fit_temperature(self, scores: np.ndarray, truth: np.ndarray) -> float:
        return fit_temperature(np.asarray(scores, dtype=np.float32), truth)

    def load(self, folder: Path) -> FaqEntryClassifier:
        state = json.loads((folder / _FEATURES_FILE).read_text("utf-8"))
        features = TextFeatures.from_state(state["blocks"])
        try:  # opened here: np.load leaves a file it cannot read open
            with (
                (folder / _WEIGHTS_FILE).open("rb") as handle,
                np.load(handle, allow_pickle=False) as saved,
            ):
                extra = saved["extra_weights"] if "extra_weights" in saved.files else None
                extra = extra if extra is not None and extra.size else None
                return FaqEntryClassifier(
                    features,
                    saved["ngram_weights"],
                    saved["vector_weights"],
                    saved["bias"],
                    float(state["embedding_weight"]),
                    extra,
                    float(state.get("extra_weight", 0.0)),
                )
        except zipfile.BadZipFile as exc:  # not an OSError: said as a damaged file
            raise ValueError(f"damaged FAQ classifier weights in {folder}: {exc}") from None
