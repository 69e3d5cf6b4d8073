"""The FAQ entry classifier: the intent classifier's features and SVM over an FAQ's forms.

The knowledge index decides when one is trained and how it is fused
(``kefu.knowledge.faq_classifier``); this is the model. Each FAQ entry is a class and its
forms (标准问 + 相似问) are its examples. Features are the intent classifier's own
(``TextFeatures``: character n-grams within words and word n-grams, each block TF-IDF and
L2-normalised) next to the sentence vectors the index already computed for the forms, so
training embeds nothing and a query costs its n-grams and one small matrix product
(its vector is the one retrieval computed). The linear SVM and the temperature fit are the
intent classifier's.

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
    "MAX_PARAMETERS",
    "REGULARIZATION",
    "FaqEntryClassifier",
    "FaqEntryTrainer",
]

EMBEDDING_WEIGHT = 2.0  # the sentence vector's weight next to the unit n-gram blocks
REGULARIZATION = 0.5  # the SVM's C
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

    @property
    def entries(self) -> int:
        return len(self._bias)

    def scores(self, texts: Sequence[str], vectors: np.ndarray) -> np.ndarray:
        """texts × entries SVM margins (``vectors``: the texts' unit sentence vectors)."""
        ngrams = self._features.transform(texts)
        result: np.ndarray = (
            np.asarray(ngrams @ self._ngram_weights)
            + np.asarray(vectors, dtype=np.float32) @ self._vector_weights
            + self._bias
        )
        return result

    def save(self, folder: Path) -> None:
        state = {"embedding_weight": self.embedding_weight, "blocks": self._features.state()}
        (folder / _FEATURES_FILE).write_text(json.dumps(state, ensure_ascii=False), "utf-8")
        np.savez(
            folder / _WEIGHTS_FILE,
            ngram_weights=self._ngram_rows,
            vector_weights=self._vector_rows,
            bias=self._bias,
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
    ) -> None:
        self.embedding_weight = embedding_weight
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
        return [self.train_one(s.forms, s.entries, s.vectors) for s in sets]

    def train_one(
        self, forms: Sequence[str], entries: np.ndarray, vectors: np.ndarray
    ) -> FaqEntryClassifier | None:
        """Fit on ``forms`` labelled with their entry numbers (0 … E-1, every one present);
        None when the classifier would hold more than ``max_parameters`` weights."""
        features = TextFeatures(char=True, word=True, pos=False, embedder=None)
        ngrams = features.fit_transform(forms)
        count = int(entries.max()) + 1 if len(entries) else 0
        if count < 2 or count * (features.width + vectors.shape[1]) > self.max_parameters:
            return None
        if len(np.unique(entries)) != count:
            raise ValueError("every entry needs at least one form")
        scaled = sp.csr_matrix(np.asarray(vectors, dtype=np.float32) * self.embedding_weight)
        weights, bias = fit_svm(
            sp.hstack([ngrams, scaled], format="csr"), entries, self.regularization
        )
        width = features.width
        return FaqEntryClassifier(
            features, weights[:, :width], weights[:, width:], bias, self.embedding_weight
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
                return FaqEntryClassifier(
                    features,
                    saved["ngram_weights"],
                    saved["vector_weights"],
                    saved["bias"],
                    float(state["embedding_weight"]),
                )
        except zipfile.BadZipFile as exc:  # not an OSError: said as a damaged file
            raise ValueError(f"damaged FAQ classifier weights in {folder}: {exc}") from None
