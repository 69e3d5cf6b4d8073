"""The embedded knowledge index: FAQ matching and passage search, lexical or hybrid.

BM25 (bm25s) picks candidates; each hit then gets a ``relevance`` in [0, 1] that means the
same thing for every query, so one threshold works:

* FAQ (see ``_faq``): the F1 of two IDF-weighted coverages — how much of the query the
  entry covers and how much of its best-matching form the query covers.
* Passages: how much of the query (IDF-weighted) the chunk's heading and text cover,
  raised to the power 1.5 (a long passage covers many words, so only coverage counts).

With an :class:`~kefu.knowledge.embedders.Embedder`, every FAQ form and chunk also gets a
vector (an exact cosine search, ``vectors.EmbeddedVectorIndex``) and the two relevances are
fused (``_fusion``); an optional :class:`~kefu.knowledge.rerank.Reranker` then rescores the
best passages. Without an embedder the lexical path runs exactly as it always has.

A chat turn must not wait on a model server with the event loop held, so it first awaits
:meth:`KnowledgeIndex.query_vector` and passes the :class:`QueryVector` to
:meth:`~KnowledgeIndex.match_faq`, then awaits :meth:`~KnowledgeIndex.asearch` (which
awaits the reranker): both bounded by one deadline, both degrading (lexical, fused order)
with a note instead of failing (``query_time``). Called without a vector, ``match_faq`` and
``search`` embed and rerank synchronously: for the CLI and worker threads.

Reads are lock-free: :meth:`KnowledgeIndex.rebuild` and :meth:`~KnowledgeIndex.load` build
a new immutable snapshot and swap one reference, so a query sees the old or the new index.

Rebuilds are incremental where the cost is: a chunk's tokens are remembered by content hash
(``_chunk_tokens``), and every vector is kept in an :class:`~kefu.knowledge.embedders.cache.
EmbeddingCache` persisted beside the index, so changing one document tokenizes and embeds
only its chunks; BM25 and the FAQ index are rebuilt from the stored texts (fast).

This module holds the index's surface and its state; the steps live beside it:
``_index_snapshot`` (what a query reads), ``_index_match`` (how a query is scored),
``_index_fit`` (what a build fits: FAQ and passage thresholds, the FAQ classifier),
``_index_embeddings`` (the build's vectors through the embedding cache) and ``_index_load``
(reading a saved index).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from kefu.appfile.embedding_config import RetrievalConfig
from kefu.core.errors import ConfigError, ProviderError, RetrievalError
from kefu.core.types import Chunk, ChunkHit, FaqEntry, FaqHit
from kefu.knowledge._chunk_tokens import ChunkTokens
from kefu.knowledge._dense_passages import ChunkVectors
from kefu.knowledge._faq import FaqIndex
from kefu.knowledge._faq_fusion import form_voting, save_hubness
from kefu.knowledge._fusion import Fusion
from kefu.knowledge._index_embeddings import IndexEmbeddings
from kefu.knowledge._index_fit import IndexFit, calibrated
from kefu.knowledge._index_load import read_saved
from kefu.knowledge._index_match import (
    MAX_QUERY_CHARS,
    Scoring,
    cut,
    lexical_passages,
    query_tokens,
    rerank_texts,
    reranked,
)
from kefu.knowledge._index_snapshot import ChunkIndex, Snapshot, chunk_texts, vector_index
from kefu.knowledge._persist import knowledge_fingerprint, save_index
from kefu.knowledge.build_report import BuildProgress, BuildReport
from kefu.knowledge.calibration import FaqCalibration
from kefu.knowledge.classifier_encoder import ClassifierEncoder, query_language_fits
from kefu.knowledge.embedders.base import Embedder
from kefu.knowledge.embedders.batch import build_workers
from kefu.knowledge.embedders.cache import EmbedStats
from kefu.knowledge.embedders.factory import (
    cosine_range,
    describe_retrieval,
    embedder_languages,
    embeds_passages,
)
from kefu.knowledge.faq_classifier import ClassifierFusion, EntryClassifierTrainer
from kefu.knowledge.passage_calibration import PassageCalibration
from kefu.knowledge.query_time import (
    QUERY_DEADLINE_S,
    Degraded,
    ProviderGuard,
    embed_query,
    rerank_scores,
)
from kefu.knowledge.rerank import Reranker
from kefu.knowledge.vectors.embedded import EmbeddedVectorIndex
from kefu.knowledge.vectors.store import VectorStore

__all__ = ["KnowledgeIndex", "Passages", "QueryVector", "knowledge_fingerprint"]

logger = logging.getLogger(__name__)

_QUERY_VECTOR_CACHE = 1024  # match_faq and search of one turn embed the query once


@dataclass(frozen=True, slots=True)
class QueryVector:
    """A query's embedding for one turn; ``vector`` None: this turn retrieves lexically
    (the embedder does not know the language, or ``degraded`` says why it failed)."""

    text: str  # the query as embedded (cut to MAX_QUERY_CHARS)
    vector: np.ndarray | None
    degraded: Degraded | None = None
    extra: np.ndarray | None = None  # the FAQ classifier's second encoder's vector


@dataclass(frozen=True, slots=True)
class Passages:
    """What :meth:`KnowledgeIndex.asearch` found; ``degraded``: the reranker failed and the
    passages keep their fused order and relevance."""

    hits: list[ChunkHit]
    degraded: Degraded | None = None


class KnowledgeIndex:
    """An app's FAQ and passage index; persisted under ``index_dir`` when one is given.

    ``embedder`` turns on dense retrieval, fused with BM25 as ``retrieval`` says (its
    ``retrievers``: ``auto`` = hybrid when there is an embedder); ``reranker`` rescores the
    best ``retrieval.rerank.candidates`` passages of :meth:`search`. ``query_deadline_s``
    bounds a turn's embedder and reranker calls together (:meth:`query_deadline`).
    ``vector_store`` (e.g. Milvus) holds the passage vectors instead of the data dir, shared
    by every replica; FAQ form vectors stay embedded (few, and every one is scored).
    ``calibrate``: fit the FAQ and passage thresholds per language at build time
    (``calibration``, ``passage_calibration``).
    ``embed_workers``: threads a build embeds with (default: one per core, at most four).
    ``faq_classifier``: trains a classifier over the FAQ entries at build when the FAQ has
    enough variants, fused with hybrid retrieval (``kefu.knowledge.faq_classifier``);
    ``classifier_encoder`` gives it a second encoder for English FAQs (the English MiniLM,
    ``kefu.knowledge.classifier_encoder``), asked for only when such a classifier is trained.
    """

    def __init__(
        self,
        index_dir: Path | None = None,
        *,
        embedder: Embedder | None = None,
        retrieval: RetrievalConfig | None = None,
        reranker: Reranker | None = None,
        query_deadline_s: float = QUERY_DEADLINE_S,
        vector_store: VectorStore | None = None,
        calibrate: bool = True,
        embed_workers: int | None = None,
        faq_classifier: EntryClassifierTrainer | None = None,
        classifier_encoder: ClassifierEncoder | None = None,
    ) -> None:
        self.index_dir = index_dir
        self.calibrate = calibrate  # fit thresholds at build (off: the configured ones)
        self.embed_workers = embed_workers or build_workers()
        self.retrieval = retrieval or RetrievalConfig()
        mode = self.retrieval.retrievers
        if mode == "auto":
            mode = "hybrid" if embedder is not None else "lexical"
        if mode != "lexical" and embedder is None:
            raise ConfigError(f"{mode} retrieval needs an embedder", key="retrieval.retrievers")
        self.retrievers: Literal["lexical", "dense", "hybrid"] = mode
        self.embedder = embedder if mode != "lexical" else None
        self.faq_classifier = faq_classifier if self.embedder is not None else None
        self.classifier_encoder = classifier_encoder
        fusion = None
        voting = form_voting(embedder.name if embedder is not None else None)
        self.dense_passages = False  # whether chunks are embedded (see embeds_passages)
        if mode != "lexical" and embedder is not None:
            fusion = Fusion.from_config(self.retrieval, mode, cosine_range(embedder))
            self.dense_passages = embeds_passages(embedder)
        # Only passage vectors leave the process: without dense passages there are none.
        self.vector_store = vector_store if self.dense_passages else None
        self.reranker = reranker
        self.dense_languages = embedder_languages(self.retrieval.embedding)
        self._scoring = Scoring(fusion, voting, self.dense_languages)  # _index_match.py
        self._snapshot = Snapshot(FaqIndex.create(()), ChunkIndex.create(()), None)
        self._write_lock = threading.Lock()
        self._query_vectors: dict[str, np.ndarray] = {}
        self._query_extras: dict[str, np.ndarray] = {}  # the second encoder's, likewise
        self.query_deadline_s = query_deadline_s
        self._embedder_guard = ProviderGuard("embedder", "lexical")
        self._reranker_guard = ProviderGuard("reranker", "fused order")
        self._chunk_tokens = ChunkTokens(index_dir)  # the tokens of the chunks last indexed
        # the build's embedding cache (_index_embeddings.py)
        self._embeddings = IndexEmbeddings(self.embedder, index_dir) if self.embedder else None
        self._calibration_texts: list[str] = []  # embedded for the passage calibration
        self.last_build: BuildReport | None = None

    @property
    def fingerprint(self) -> str | None:
        """The fingerprint of the knowledge now indexed (None before a rebuild or load)."""
        return self._snapshot.fingerprint

    @property
    def embedder_name(self) -> str | None:
        """The embedder's name, part of the persisted index's key (None: lexical only)."""
        return self.embedder.name if self.embedder is not None else None

    @property
    def description(self) -> str:
        """Which retrieval is on, in one line: ``hybrid (BM25 + use-multilingual-v3, …)``."""
        described = describe_retrieval(self.retrievers, self.embedder, self.retrieval.fusion)
        if self.vector_store is not None:
            described += f"; passage vectors in {self.vector_store.name}"
        fusion = self._snapshot.faq_fusion
        if fusion is not None and fusion.active:
            described += f"; FAQ classifier (weight {fusion.weight:g})"
        return described

    @property
    def faq_classifier_encoders(self) -> list[str]:
        """The encoders whose vectors the active FAQ classifier reads (empty: none active)."""
        fusion = self._snapshot.faq_fusion
        if fusion is None or not fusion.active or self.embedder is None:
            return []
        return [self.embedder.name, *([fusion.extra_encoder] if fusion.extra_encoder else [])]

    @property
    def faq_fusion(self) -> ClassifierFusion | None:
        """The FAQ classifier fitted at the last build (None: not trained for this FAQ)."""
        return self._snapshot.faq_fusion

    @property
    def calls_models(self) -> bool:
        """Whether a query may call an embedder or reranker (else retrieval is all local)."""
        return self.embedder is not None or self.reranker is not None

    def query_deadline(self) -> float:
        """The ``time.monotonic()`` by which a turn starting now must have its model calls."""
        return time.monotonic() + self.query_deadline_s

    async def aclose(self) -> None:
        """Close the running event loop's connections to the embedder and reranker."""
        for provider in (self.embedder, self.reranker):
            aclose = getattr(provider, "aclose", None)
            if aclose is not None:
                await aclose()

    @property
    def calibration(self) -> FaqCalibration:
        """The FAQ thresholds fitted on this index's own FAQ, per language."""
        return self._snapshot.calibration

    @property
    def passage_calibration(self) -> PassageCalibration:
        """The passage thresholds fitted on questions written from this index's own
        knowledge, per language (``passage_calibration.py``)."""
        return self._snapshot.passage_calibration

    @property
    def faq_count(self) -> int:
        return len(self._snapshot.faq.entries)

    @property
    def faq_entries(self) -> tuple[FaqEntry, ...]:
        """The FAQ entries now indexed."""
        return self._snapshot.faq.entries

    @property
    def chunk_count(self) -> int:
        return len(self._snapshot.chunks.chunks)

    def rebuild(
        self,
        faqs: Sequence[FaqEntry],
        chunks: Sequence[Chunk],
        fingerprint: str | None = None,
        *,
        progress: BuildProgress | None = None,
    ) -> BuildReport:
        """Index ``faqs`` and ``chunks``, persist them, and swap them in; what was done.

        ``fingerprint`` defaults to :func:`knowledge_fingerprint` of the same knowledge.
        Only chunks new since the last build are tokenized, and only FAQ forms and chunks
        whose text is not in the embedding cache are embedded (the slow part); ``progress``
        hears about both steps.
        """
        started = time.perf_counter()
        fingerprint = fingerprint or knowledge_fingerprint(faqs, chunks, self.embedder_name)
        with self._write_lock:
            faq = FaqIndex.create(faqs)
            texts = chunk_texts(chunks)
            tokens, tokenized = self._chunk_tokens.tokenize(texts, progress)
            chunk_index = ChunkIndex.create(chunks, tokens=tokens)
            faq_vectors: EmbeddedVectorIndex | None = None
            chunk_vectors: ChunkVectors | None = None
            stats = EmbedStats()
            embedded_texts: list[str] = []
            if self.embedder is not None:
                embedded_texts = list(faq.forms) + (texts if self.dense_passages else [])
                # One pass over the cache for both kinds, unless a vector store may already
                # hold the chunks (another replica stored this version): then only if not.
                local = self.dense_passages and self.vector_store is None
                matrix, stats = self._embed(embedded_texts if local else faq.forms, progress)
                faq_vectors = vector_index(self.embedder.dim, matrix[: len(faq.forms)])
                if local:
                    chunk_vectors = vector_index(self.embedder.dim, matrix[len(faq.forms) :])
                elif self.dense_passages:
                    assert self._embeddings is not None and self.vector_store is not None
                    chunk_vectors, more = self._embeddings.stored_vectors(
                        self.vector_store, chunks, fingerprint, self.embed_workers, progress
                    )
                    stats += more
            snapshot = calibrated(
                self._fit(), Snapshot(faq, chunk_index, fingerprint, faq_vectors, chunk_vectors)
            )
            if self.index_dir is not None:
                lexicons = {"faq": faq.lexicon, "chunks": chunk_index.lexicon}
                named = {"faq_vectors": faq_vectors, "chunk_vectors": chunk_vectors}
                vectors = {
                    name: found
                    for name, found in named.items()
                    if isinstance(found, EmbeddedVectorIndex)  # a remote store keeps its own
                }
                save_index(
                    self.index_dir,
                    fingerprint,
                    faqs,
                    chunks,
                    lexicons,
                    vectors,
                    self.embedder_name,
                    snapshot.calibration,
                    snapshot.passage_calibration,
                    writers=self._writers(snapshot),
                )
            if self._embeddings is not None:
                # deleted documents' vectors go (the calibration's questions stay)
                self._embeddings.keep_only(embedded_texts + self._calibration_texts)
            self._snapshot = snapshot
            report = BuildReport(
                faq_entries=len(faqs),
                chunks=len(chunks),
                tokenized=tokenized,
                embedded=stats.embedded,
                reused=stats.reused,
                seconds=time.perf_counter() - started,
                faq_classifier=snapshot.faq_fusion.describe() if snapshot.faq_fusion else None,
            )
            self.last_build = report
        logger.debug("knowledge index: %s", report.summary())  # the app logs it at INFO
        return report

    def load(self, fingerprint: str) -> bool:
        """Swap in the index saved for ``fingerprint``; False if missing or unreadable
        (``_index_load.py``). Its embedding cache is seeded from its vectors if need be."""
        if self.index_dir is None:
            return False
        with self._write_lock:
            saved = read_saved(
                self.index_dir,
                fingerprint,
                embedder=self.embedder,
                dense_passages=self.dense_passages,
                vector_store=self.vector_store,
                faq_classifier=self.faq_classifier,
                classifier_encoder=self.classifier_encoder,
            )
            if saved is None:
                return False
            loaded = saved.snapshot
            self._snapshot = calibrated(
                self._fit(),
                loaded,
                FaqCalibration.load(saved.folder),
                saved.fusion,
                saved.extra_encoder,
                PassageCalibration.load(saved.folder),
            )
            if self._embeddings is not None and loaded.faq_vectors is not None:
                self._embeddings.seed(
                    loaded.faq.forms, loaded.chunks.chunks, loaded.faq_vectors, loaded.chunk_vectors
                )
            return True

    async def query_vector(self, query: str, *, deadline: float) -> QueryVector:
        """The query's vector for :meth:`match_faq` and :meth:`asearch`, awaited by
        ``deadline`` (see :meth:`query_deadline`); never raises a provider error: a failed,
        slow or cooling-down embedder gives no vector and says why."""
        text = query[:MAX_QUERY_CHARS]
        embedder, snapshot = self.embedder, self._snapshot
        has_vectors = snapshot.faq_vectors is not None or snapshot.chunk_vectors is not None
        if embedder is None or not has_vectors or not self._scoring.dense_for(query):
            return QueryVector(text, None)
        # The FAQ classifier's second encoder (English only) runs beside the first, on its
        # own encoder thread, so a turn waits for the slower of the two, not their sum.
        encoder, extra = snapshot.faq_extra_encoder, None
        second: asyncio.Task[np.ndarray | None] | None = None
        if encoder is not None and query_language_fits(text):
            extra = self._query_extras.get(text)
            if extra is None:
                second = asyncio.ensure_future(self._extra_vector(encoder, text, deadline))
        vector = self._query_vectors.get(text)
        if vector is None:
            found = await self._embedder_guard.call(
                lambda: embed_query(embedder, text, deadline=deadline), deadline=deadline
            )
            if isinstance(found, Degraded):
                if second is not None:
                    second.cancel()
                return QueryVector(text, None, found)
            vector = self._remember_vector(text, found)
        if second is not None:
            extra = await second
        return QueryVector(text, vector, extra=extra)

    async def _extra_vector(
        self, encoder: Embedder, text: str, deadline: float
    ) -> np.ndarray | None:
        """The query's vector from the FAQ classifier's second encoder, off the event loop
        (batched with concurrent turns' if the encoder can), by the turn's deadline."""
        try:
            extra = await embed_query(encoder, text, deadline=deadline)
        except (ProviderError, RuntimeError, ValueError, OSError) as exc:
            # an optional extra: the classifier scores that block as zero
            logger.warning("FAQ classifier: %s failed: %s", encoder.name, exc)
            return None
        self._remember_extra(text, extra)
        return extra

    def match_faq(
        self, query: str, top_k: int = 3, *, vector: QueryVector | None = None
    ) -> list[FaqHit]:
        """The FAQ entries that best answer ``query``, best first (at most one hit per entry).

        ``vector`` (from :meth:`query_vector`): use it, or stay lexical if it has none;
        without it the query is embedded here, blocking.
        """
        snapshot = self._snapshot
        dense = None
        if snapshot.faq_vectors is not None and self._scoring.dense_for(query):
            dense = self._vector_of(query, vector)
        if dense is None:
            return snapshot.faq.match(query_tokens(query), top_k)
        return self._scoring.hybrid_faq(
            snapshot, query, top_k, dense, self._extra_of(snapshot, query, vector)
        )

    def search(
        self,
        query: str,
        top_k: int = 3,
        *,
        filters: Mapping[str, Any] | None = None,
        min_relevance: float = 0.0,
        vector: QueryVector | None = None,
    ) -> list[ChunkHit]:
        """The document chunks most relevant to ``query``, best first.

        ``filters``: ``document_id`` and/or ``language`` (a value or a list of values).
        With a reranker its score is the relevance, so ``min_relevance`` (the passage
        threshold) applies after reranking. Blocking: a chat turn uses :meth:`asearch`.
        """
        try:
            hits = self._passage_candidates(query, top_k, filters, vector)
        except RetrievalError as exc:  # the vector store is down: answer from BM25
            logger.warning("passage vectors unavailable, searching lexically: %s", exc)
            lexical = QueryVector(query[:MAX_QUERY_CHARS], None)
            hits = self._passage_candidates(query, top_k, filters, lexical)
        if self.reranker is not None and hits:
            scores = self.reranker.rerank(query[:MAX_QUERY_CHARS], rerank_texts(hits))
            hits = reranked(hits, scores)
        return cut(hits, top_k, min_relevance)

    async def asearch(
        self,
        query: str,
        top_k: int = 3,
        *,
        vector: QueryVector,
        deadline: float,
        filters: Mapping[str, Any] | None = None,
        min_relevance: float = 0.0,
    ) -> Passages:
        """:meth:`search` for a chat turn: the reranker is awaited by ``deadline``; if it
        fails, the passages keep their fused order and relevance, and say so. A remote
        vector store is called off the event loop, by the same deadline (else BM25)."""
        hits, store_note = await self._turn_candidates(query, top_k, filters, vector, deadline)
        reranker = self.reranker
        if reranker is None or not hits:
            return Passages(cut(hits, top_k, min_relevance), store_note)
        text, texts = query[:MAX_QUERY_CHARS], rerank_texts(hits)
        scores = await self._reranker_guard.call(
            lambda: rerank_scores(reranker, text, texts, deadline=deadline), deadline=deadline
        )
        if isinstance(scores, Degraded):
            return Passages(cut(hits, top_k, min_relevance), scores)
        return Passages(cut(reranked(hits, scores), top_k, min_relevance), store_note)

    async def _turn_candidates(
        self,
        query: str,
        top_k: int,
        filters: Mapping[str, Any] | None,
        vector: QueryVector,
        deadline: float,
    ) -> tuple[list[ChunkHit], Degraded | None]:
        """:meth:`_passage_candidates`; with a remote vector store in a worker thread, and
        lexical (with the reason) if the store fails or misses ``deadline``."""
        stored = self._snapshot.chunk_vectors
        if stored is None or isinstance(stored, EmbeddedVectorIndex) or vector.vector is None:
            return self._passage_candidates(query, top_k, filters, vector), None
        remaining = deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError
            hits = await asyncio.wait_for(
                asyncio.to_thread(self._passage_candidates, query, top_k, filters, vector),
                remaining,
            )
            return hits, None
        except TimeoutError:
            note = Degraded("vector store", "timeout", "lexical")
        except RetrievalError as exc:
            note = Degraded("vector store", str(exc), "lexical")
        logger.warning("passage vectors unavailable, searching lexically: %s", note.reason)
        lexical = QueryVector(vector.text, None)
        return self._passage_candidates(query, top_k, filters, lexical), note

    def _passage_candidates(
        self,
        query: str,
        top_k: int,
        filters: Mapping[str, Any] | None,
        vector: QueryVector | None,
    ) -> list[ChunkHit]:
        """The best passages before reranking: ``top_k``, or the reranker's candidates."""
        snapshot = self._snapshot
        allowed = snapshot.chunks.allowed(filters) if filters else None
        pool = top_k
        if self.reranker is not None and top_k > 0:
            pool = max(top_k, self.retrieval.rerank.candidates)
        dense = None
        if snapshot.chunk_vectors is not None and self._scoring.dense_for(query):
            dense = self._vector_of(query, vector)
        if dense is None:
            return lexical_passages(snapshot.chunks, query, pool, allowed)
        return self._scoring.hybrid_passages(snapshot, query, pool, allowed, filters, dense)

    # --- what a build fits and embeds (_index_fit.py, _index_embeddings.py) -----------

    @staticmethod
    def _writers(snapshot: Snapshot) -> list[Callable[[Path], None]]:
        """What a saved index holds besides lexicons, vectors and thresholds: the forms'
        hubness and the FAQ classifier."""
        writers: list[Callable[[Path], None]] = []
        if snapshot.faq_hubness is not None:
            writers.append(functools.partial(save_hubness, snapshot.faq_hubness))
        if snapshot.faq_fusion is not None:
            writers.append(snapshot.faq_fusion.save)
        return writers

    def _fit(self) -> IndexFit:
        """What the build-time fits read of this index."""
        return IndexFit(
            self._scoring,
            self.calibrate,
            self.embedder,
            self.faq_classifier,
            self.classifier_encoder,
            self.index_dir,
            self.reranker is not None,
            lambda texts: self._embed(texts, None)[0],
            self._calibration_texts,
        )

    def _embed(
        self, texts: Sequence[str], progress: BuildProgress | None
    ) -> tuple[np.ndarray, EmbedStats]:
        """The vectors of ``texts``: from the embedding cache, the rest embedded in batches."""
        assert self._embeddings is not None
        return self._embeddings.embed(texts, self.embed_workers, progress)

    # --- the query's vectors ---------------------------------------------------------

    def _vector_of(self, query: str, given: QueryVector | None) -> np.ndarray | None:
        """The query's vector: the one ``given`` (None: lexical), else embedded here."""
        if given is not None:
            if given.text != query[:MAX_QUERY_CHARS]:
                raise ValueError("the query vector was made for another query")
            return given.vector
        assert self.embedder is not None
        text = query[:MAX_QUERY_CHARS]
        vector = self._query_vectors.get(text)
        if vector is None:
            vector = self._remember_vector(text, self.embedder.embed([text])[0])
        return vector

    def _extra_of(
        self, snapshot: Snapshot, query: str, given: QueryVector | None
    ) -> np.ndarray | None:
        """The query's second-encoder vector: ``given``'s, else embedded here (blocking)."""
        if given is not None:
            return given.extra
        encoder, text = snapshot.faq_extra_encoder, query[:MAX_QUERY_CHARS]
        if encoder is None or not query_language_fits(text):
            return None
        extra = self._query_extras.get(text)
        if extra is None:
            try:
                extra = encoder.embed([text])[0]
            except (ProviderError, RuntimeError, ValueError, OSError) as exc:
                logger.warning("FAQ classifier: %s failed: %s", encoder.name, exc)
                return None  # that block scores zero
            self._remember_extra(text, extra)
        return extra

    def _remember_extra(self, text: str, vector: np.ndarray) -> None:
        if len(self._query_extras) >= _QUERY_VECTOR_CACHE:
            self._query_extras.clear()
        self._query_extras[text] = vector

    def _remember_vector(self, text: str, vector: np.ndarray) -> np.ndarray:
        if len(self._query_vectors) >= _QUERY_VECTOR_CACHE:
            self._query_vectors.clear()
        self._query_vectors[text] = vector
        return vector
