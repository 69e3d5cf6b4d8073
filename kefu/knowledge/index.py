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
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from kefu.appfile.embedding_config import RetrievalConfig
from kefu.core.errors import ConfigError, InvalidParam, KefuError, ProviderError, RetrievalError
from kefu.core.types import Chunk, ChunkHit, FaqEntry, FaqHit
from kefu.knowledge._chunk_tokens import ChunkTokens
from kefu.knowledge._dense_passages import (
    ChunkVectors,
    dense_scores,
    open_chunk_vectors,
    store_chunk_vectors,
)
from kefu.knowledge._faq import FaqIndex
from kefu.knowledge._faq_fusion import entry_cosine, form_hubness, form_voting
from kefu.knowledge._fusion import Fusion
from kefu.knowledge._lexicon import Lexicon
from kefu.knowledge._passage_trials import fit_passage_thresholds
from kefu.knowledge._persist import knowledge_fingerprint, read_manifest, save_index
from kefu.knowledge.build_report import BuildProgress, BuildReport
from kefu.knowledge.calibration import FaqCalibration, HeldOutMatcher, calibrate_faq
from kefu.knowledge.classifier_encoder import (
    ClassifierEncoder,
    english_faq,
    form_vectors,
    query_language_fits,
)
from kefu.knowledge.embedders.base import Embedder
from kefu.knowledge.embedders.batch import build_workers
from kefu.knowledge.embedders.cache import EmbeddingCache, EmbedStats
from kefu.knowledge.embedders.factory import (
    cosine_range,
    describe_retrieval,
    embedder_languages,
    embeds_passages,
)
from kefu.knowledge.faq_classifier import (
    ClassifierFusion,
    EntryClassifierTrainer,
    fit_fusion,
    wants_classifier,
)
from kefu.knowledge.passage_calibration import TOP_K as CALIBRATION_TOP_K
from kefu.knowledge.passage_calibration import PassageCalibration
from kefu.knowledge.query_time import (
    QUERY_DEADLINE_S,
    Degraded,
    ProviderGuard,
    embed_query,
    rerank_scores,
)
from kefu.knowledge.rerank import Reranker
from kefu.knowledge.tokenizer import detect_language, tokenize
from kefu.knowledge.vectors.base import normalise_filters
from kefu.knowledge.vectors.embedded import EmbeddedVectorIndex
from kefu.knowledge.vectors.store import VectorStore

__all__ = ["KnowledgeIndex", "Passages", "QueryVector", "knowledge_fingerprint"]

logger = logging.getLogger(__name__)

MAX_QUERY_CHARS = 1_000  # a longer query is cut before tokenizing, so 100 KB stays fast
MAX_QUERY_TOKENS = 256
_CANDIDATES = 64  # BM25 (and dense) candidates that get a relevance, per query
# Passage relevance is coverage ** 1.5: the default threshold 0.3 then needs ~45% of the
# query's weight found in the passage, so a passage sharing one word of three falls short.
_PASSAGE_COVERAGE_EXPONENT = 1.5
_QUERY_VECTOR_CACHE = 1024  # match_faq and search of one turn embed the query once
_PASSAGE_FILTERS = frozenset({"document_id", "language"})


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


@dataclass(frozen=True, slots=True)
class _ChunkIndex:
    chunks: tuple[Chunk, ...]
    lexicon: Lexicon
    _languages: list[str] = field(default_factory=list)  # filled on the first filter

    @classmethod
    def create(
        cls,
        chunks: Sequence[Chunk],
        saved: Path | None = None,
        tokens: Sequence[Sequence[str]] | None = None,
    ) -> _ChunkIndex:
        """Index the heading and text of ``chunks`` (already tokenized: ``tokens``), or load
        the lexicon ``saved`` for them."""
        if saved is not None:
            lexicon = Lexicon.load(saved, len(chunks), None)
        else:
            if tokens is None:
                tokens = [tokenize(text) for text in _chunk_texts(chunks)]
            lexicon = Lexicon.build(tokens, None)
        return cls(tuple(chunks), lexicon)

    def allowed(self, filters: Mapping[str, Any]) -> np.ndarray:
        """A boolean mask of the chunks that pass ``filters`` (document_id, language)."""
        wanted = normalise_filters(filters)
        unknown = set(wanted) - _PASSAGE_FILTERS
        if unknown:
            raise InvalidParam("passages can be filtered by document_id and language only")
        mask = np.ones(len(self.chunks), dtype=bool)
        if "document_id" in wanted:
            ids = set(wanted["document_id"])
            mask &= np.fromiter((c.document_id in ids for c in self.chunks), dtype=bool)
        if "language" in wanted:
            if not self._languages and self.chunks:
                self._languages.extend(detect_language(c.content) for c in self.chunks)
            languages = set(wanted["language"])
            mask &= np.fromiter((lang in languages for lang in self._languages), dtype=bool)
        return mask


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """Everything a query reads, swapped in as one reference."""

    faq: FaqIndex
    chunks: _ChunkIndex
    fingerprint: str | None
    faq_vectors: EmbeddedVectorIndex | None = None  # one row per FAQ form
    chunk_vectors: ChunkVectors | None = None  # one row per chunk (embedded or remote)
    faq_hubness: np.ndarray | None = None  # per FAQ form (_faq_fusion.form_hubness)
    calibration: FaqCalibration = field(default_factory=lambda: FaqCalibration({}))
    passage_calibration: PassageCalibration = field(default_factory=lambda: PassageCalibration({}))
    faq_fusion: ClassifierFusion | None = None  # the FAQ classifier (faq_classifier.py)
    faq_extra_encoder: Embedder | None = None  # the classifier's second encoder, if it reads one


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
        self._fusion = None
        self._form_voting = form_voting(embedder.name if embedder is not None else None)
        self.dense_passages = False  # whether chunks are embedded (see embeds_passages)
        if mode != "lexical" and embedder is not None:
            self._fusion = Fusion.from_config(self.retrieval, mode, cosine_range(embedder))
            self.dense_passages = embeds_passages(embedder)
        # Only passage vectors leave the process: without dense passages there are none.
        self.vector_store = vector_store if self.dense_passages else None
        self.reranker = reranker
        self.dense_languages = embedder_languages(self.retrieval.embedding)
        self._snapshot = _Snapshot(FaqIndex.create(()), _ChunkIndex.create(()), None)
        self._write_lock = threading.Lock()
        self._query_vectors: dict[str, np.ndarray] = {}
        self._query_extras: dict[str, np.ndarray] = {}  # the second encoder's, likewise
        self.query_deadline_s = query_deadline_s
        self._embedder_guard = ProviderGuard("embedder", "lexical")
        self._reranker_guard = ProviderGuard("reranker", "fused order")
        self._chunk_tokens = ChunkTokens(index_dir)  # the tokens of the chunks last indexed
        # read from index_dir by each build (kept between builds only without an index_dir)
        self._embeddings: EmbeddingCache | None = None
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
            texts = _chunk_texts(chunks)
            tokens, tokenized = self._chunk_tokens.tokenize(texts, progress)
            chunk_index = _ChunkIndex.create(chunks, tokens=tokens)
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
                faq_vectors = _vector_index(self.embedder.dim, matrix[: len(faq.forms)])
                if local:
                    chunk_vectors = _vector_index(self.embedder.dim, matrix[len(faq.forms) :])
                elif self.dense_passages:
                    chunk_vectors, more = self._stored_vectors(chunks, fingerprint, progress)
                    stats += more
            snapshot = self._calibrated(
                _Snapshot(faq, chunk_index, fingerprint, faq_vectors, chunk_vectors)
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
                    writers=[snapshot.faq_fusion.save] if snapshot.faq_fusion else (),
                )
            if self._embeddings is not None:
                # deleted documents' vectors go (the calibration's questions stay)
                self._embeddings.retain(embedded_texts + self._calibration_texts)
                if self.index_dir is not None:
                    self._embeddings.save(self.index_dir)
                    # On disk now: not held twice in memory beside the index between builds
                    # (20 MB for 10k chunks of 512-d); the next build reads it back (~50 ms).
                    self._embeddings = None
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
        """Swap in the index saved for ``fingerprint``; False if missing or unreadable."""
        if self.index_dir is None:
            return False
        with self._write_lock:
            found = read_manifest(self.index_dir, fingerprint, self.embedder_name)
            if found is None:
                return False
            folder, faqs, chunks = found
            try:
                faq = FaqIndex.create(faqs, folder / "faq")
                chunk_index = _ChunkIndex.create(chunks, folder / "chunks")
                faq_vectors: EmbeddedVectorIndex | None = None
                chunk_vectors: ChunkVectors | None = None
                if self.embedder is not None:
                    faq_vectors = _load_vectors(folder / "faq_vectors", len(faq.forms))
                    if self.dense_passages and self.vector_store is not None:
                        chunk_vectors = open_chunk_vectors(
                            self.vector_store, self.embedder.dim, fingerprint, len(chunks)
                        )
                    elif self.dense_passages:
                        chunk_vectors = _load_vectors(folder / "chunk_vectors", len(chunks))
                fusion, extra_encoder = None, None
                if self.faq_classifier is not None and faq_vectors is not None:
                    fusion = ClassifierFusion.load(folder, self.faq_classifier)
                    if fusion is None and wants_classifier(faqs):
                        return False  # saved before the classifier: build it now
                    if fusion is not None and fusion.extra_encoder is not None:
                        extra_encoder = self._extra_encoder_named(fusion.extra_encoder)
                        if extra_encoder is None:
                            return False  # its second encoder is gone: build without
                elif ClassifierFusion.saved_in(folder):
                    return False  # its thresholds read the fused relevance: build without
            except (OSError, ValueError, KeyError, IndexError, InvalidParam, RetrievalError) as exc:
                logger.warning("ignoring a damaged knowledge index in %s: %s", folder, exc)
                return False
            self._snapshot = self._calibrated(
                _Snapshot(faq, chunk_index, fingerprint, faq_vectors, chunk_vectors),
                FaqCalibration.load(folder),
                fusion,
                extra_encoder,
                PassageCalibration.load(folder),
            )
            self._seed_embeddings(faq, chunks, faq_vectors, chunk_vectors)
            return True

    def _extra_encoder_named(self, name: str) -> Embedder | None:
        """The classifier's second encoder if it is still the one named (else None, logged)."""
        encoder = self.classifier_encoder() if self.classifier_encoder is not None else None
        if encoder is None or encoder.name != name:
            logger.info("the saved FAQ classifier reads %s, not available now: rebuilding", name)
            return None
        return encoder

    def _seed_embeddings(
        self,
        faq: FaqIndex,
        chunks: Sequence[Chunk],
        faq_vectors: EmbeddedVectorIndex | None,
        chunk_vectors: ChunkVectors | None,
    ) -> None:
        """Fill the embedding cache from a loaded index's vectors when it lacks them (an
        index saved before the cache existed, or a lost cache), so the next change to the
        knowledge embeds only what changed."""
        if self.embedder is None or self.index_dir is None or faq_vectors is None:
            return
        texts, matrices = list(faq.forms), [faq_vectors.matrix]
        if isinstance(chunk_vectors, EmbeddedVectorIndex):
            texts += _chunk_texts(chunks)
            matrices.append(chunk_vectors.matrix)
        if EmbeddingCache.saved_count(self.index_dir, self.embedder) >= len(set(texts)):
            return  # saved by the build that wrote this index (it holds just its texts)
        cache = self._embedding_cache()
        added = cache.seed(texts, np.concatenate(matrices))
        if added:
            logger.info(
                "knowledge index in %s: %d vectors of the saved index kept in the embedding "
                "cache (saved before the cache existed, or the cache was lost)",
                self.index_dir,
                added,
            )
            cache.save(self.index_dir)
        self._embeddings = None  # read again by the next build

    async def query_vector(self, query: str, *, deadline: float) -> QueryVector:
        """The query's vector for :meth:`match_faq` and :meth:`asearch`, awaited by
        ``deadline`` (see :meth:`query_deadline`); never raises a provider error: a failed,
        slow or cooling-down embedder gives no vector and says why."""
        text = query[:MAX_QUERY_CHARS]
        embedder, snapshot = self.embedder, self._snapshot
        has_vectors = snapshot.faq_vectors is not None or snapshot.chunk_vectors is not None
        if embedder is None or not has_vectors or not self._dense_for(query):
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
        if snapshot.faq_vectors is not None and self._dense_for(query):
            dense = self._vector_of(query, vector)
        if dense is None:
            return snapshot.faq.match(_query_tokens(query), top_k)
        return self._hybrid_faq(
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
            scores = self.reranker.rerank(query[:MAX_QUERY_CHARS], _rerank_texts(hits))
            hits = _reranked(hits, scores)
        return _cut(hits, top_k, min_relevance)

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
            return Passages(_cut(hits, top_k, min_relevance), store_note)
        text, texts = query[:MAX_QUERY_CHARS], _rerank_texts(hits)
        scores = await self._reranker_guard.call(
            lambda: rerank_scores(reranker, text, texts, deadline=deadline), deadline=deadline
        )
        if isinstance(scores, Degraded):
            return Passages(_cut(hits, top_k, min_relevance), scores)
        return Passages(_cut(_reranked(hits, scores), top_k, min_relevance), store_note)

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
        if snapshot.chunk_vectors is not None and self._dense_for(query):
            dense = self._vector_of(query, vector)
        if dense is None:
            return _lexical_passages(snapshot.chunks, query, pool, allowed)
        return self._hybrid_passages(snapshot, query, pool, allowed, filters, dense)

    # --- FAQ calibration hook (kefu/knowledge/_faq_fusion.py, calibration.py) -----------

    def _calibrated(
        self,
        snapshot: _Snapshot,
        saved: FaqCalibration | None = None,
        fusion: ClassifierFusion | None = None,
        extra_encoder: Embedder | None = None,
        passages: PassageCalibration | None = None,
    ) -> _Snapshot:
        """``snapshot`` with its forms' hubness, its FAQ classifier and its FAQ thresholds
        (``saved`` and ``fusion`` with its second encoder, else fitted now on held-out FAQ
        questions) and its passage thresholds (``passages``, else fitted now on questions
        written from the knowledge: ``_passage_trials.py``)."""
        hubness = None
        if snapshot.faq_vectors is not None and self._form_voting:
            hubness = form_hubness(snapshot.faq_vectors.matrix, snapshot.faq.scorer.form_entry)
        snapshot = dataclasses.replace(snapshot, faq_hubness=hubness)
        if passages is None:
            passages = self._fit_passages(snapshot) if self.calibrate else None
        snapshot = dataclasses.replace(
            snapshot, passage_calibration=passages or PassageCalibration({})
        )
        if saved is not None:
            return dataclasses.replace(
                snapshot, calibration=saved, faq_fusion=fusion, faq_extra_encoder=extra_encoder
            )
        held_out: HeldOutMatcher = functools.partial(self._held_out, snapshot)
        vectors = snapshot.faq_vectors
        if (
            self.faq_classifier is not None
            and vectors is not None
            and wants_classifier(snapshot.faq.entries)
        ):
            encoder, extra = self._classifier_encoding(snapshot.faq.forms)
            fitted = fit_fusion(
                snapshot.faq.entries,
                snapshot.faq.forms,
                snapshot.faq.scorer.form_entry,
                vectors.matrix,
                self.faq_classifier,
                functools.partial(self._held_out_scores, snapshot),
                extra,
                encoder.name if encoder is not None else None,
            )
            held_out, fusion = fitted.held_out, fitted.fusion
            if fusion is not None and fusion.extra_encoder is not None:
                extra_encoder = encoder
        calibration = FaqCalibration({})
        if self.calibrate:
            calibration = calibrate_faq(snapshot.faq.entries, held_out)
        return dataclasses.replace(
            snapshot, calibration=calibration, faq_fusion=fusion, faq_extra_encoder=extra_encoder
        )

    def _classifier_encoding(
        self, forms: Sequence[str]
    ) -> tuple[Embedder | None, np.ndarray | None]:
        """The FAQ classifier's second encoder and its form vectors, for an English FAQ
        when one is installed; (None, None) otherwise, or if it fails (logged)."""
        if self.classifier_encoder is None or not english_faq(forms):
            return None, None
        encoder = self.classifier_encoder()
        if encoder is None or (self.embedder is not None and encoder.name == self.embedder.name):
            return None, None  # not installed, or already the index's own encoder
        try:
            return encoder, form_vectors(encoder, forms, self.index_dir)
        except Exception as exc:  # an optional extra: the classifier reads one encoder
            logger.warning("FAQ classifier: %s failed, not used: %s", encoder.name, exc)
            return None, None

    def _held_out(
        self,
        snapshot: _Snapshot,
        kept: Sequence[FaqEntry],
        asked: Sequence[tuple[str, int, int | None]],
    ) -> list[tuple[float, int | None]]:
        """Match ``asked`` (text, the form's vector row) against an index of ``kept`` only,
        reusing the snapshot's form vectors: (top relevance, the entry in ``kept``)."""
        held = self._held_snapshot(snapshot, kept)
        position = {id(entry): number for number, entry in enumerate(held.faq.entries)}
        found: list[tuple[float, int | None]] = []
        for text, row, _ in asked:
            hits = self._held_match(held, snapshot, text, row, 1)
            found.append((hits[0].relevance, position[id(hits[0].entry)]) if hits else (0.0, None))
        return found

    def _held_out_scores(
        self,
        snapshot: _Snapshot,
        kept: Sequence[FaqEntry],
        asked: Sequence[tuple[str, int, int | None]],
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_held_out` for every kept entry: (relevance, ranking key), questions ×
        kept entries (0 where an entry is no hit)."""
        held = self._held_snapshot(snapshot, kept)
        position = {id(entry): number for number, entry in enumerate(held.faq.entries)}
        relevance = np.zeros((len(asked), len(kept)))
        rank_key = np.zeros((len(asked), len(kept)))
        for number, (text, row, _) in enumerate(asked):
            for hit in self._held_match(held, snapshot, text, row, len(kept)):
                relevance[number, position[id(hit.entry)]] = hit.relevance
                rank_key[number, position[id(hit.entry)]] = hit.score
        return relevance, rank_key

    def _held_match(
        self, held: _Snapshot, snapshot: _Snapshot, text: str, row: int, top_k: int
    ) -> list[FaqHit]:
        """``text`` (the form at ``row`` of ``snapshot``) matched against ``held``."""
        if snapshot.faq_vectors is not None and self._dense_for(text):
            return self._hybrid_faq(held, text, top_k, snapshot.faq_vectors.matrix[row])
        hits = held.faq.match(_query_tokens(text), top_k)
        # the lexical path ranks by relevance: that is its ranking key here
        return [dataclasses.replace(hit, score=hit.relevance) for hit in hits]

    def _held_snapshot(self, snapshot: _Snapshot, kept: Sequence[FaqEntry]) -> _Snapshot:
        """An index of ``kept`` only, reusing the snapshot's form vectors (no classifier)."""
        faq = FaqIndex.create(kept)
        full = snapshot.faq_vectors
        held = _Snapshot(faq, snapshot.chunks, None)
        if full is not None:
            row_of = {text: row for row, text in reversed(list(enumerate(snapshot.faq.forms)))}
            vectors = EmbeddedVectorIndex(full.dim)
            if faq.forms:
                rows = full.matrix[[row_of[text] for text in faq.forms]]
                vectors.add([str(i) for i in range(len(faq.forms))], rows)
            hubness = None
            if self._form_voting:
                hubness = form_hubness(vectors.matrix, faq.scorer.form_entry)
            held = _Snapshot(faq, snapshot.chunks, None, vectors, None, hubness)
        return held

    def _fit_passages(self, snapshot: _Snapshot) -> PassageCalibration:
        """The passage thresholds fitted on questions written from the knowledge, searched
        as a turn searches (``_passage_trials.py``); none with a reranker (its own scale, a
        model call per question) or remote passage vectors (no document can be left out)."""
        if self.reranker is not None:
            return PassageCalibration({}, "a reranker scores the passages")
        stored = snapshot.chunk_vectors
        if stored is not None and not isinstance(stored, EmbeddedVectorIndex):
            return PassageCalibration({}, "the passage vectors are in a remote store")
        index = snapshot.chunks
        masks: dict[str, np.ndarray] = {}
        self._calibration_texts = []

        def language_mask(language: str) -> np.ndarray:
            if language not in masks:
                masks[language] = index.allowed({"language": language})
            return masks[language]

        def rank(text: str, vector: np.ndarray | None, allowed: np.ndarray) -> list[ChunkHit]:
            top = CALIBRATION_TOP_K
            if vector is None or not allowed.any():
                return _lexical_passages(index, text, top, allowed)
            return self._hybrid_passages(snapshot, text, top, allowed, None, vector)

        def lexical(text: str, _: np.ndarray | None, allowed: np.ndarray) -> list[ChunkHit]:
            return _lexical_passages(index, text, CALIBRATION_TOP_K, allowed)

        def vectors(texts: Sequence[str]) -> list[np.ndarray | None]:
            dense = [text for text in texts if stored is not None and self._dense_for(text)]
            if not dense:
                return [None] * len(texts)
            assert self.embedder is not None  # passage vectors come from it
            rows = {text: row for row, text in enumerate(snapshot.faq.forms)}
            matrix = snapshot.faq_vectors.matrix if snapshot.faq_vectors is not None else None
            missing = list(dict.fromkeys(t for t in dense if t not in rows or matrix is None))
            # through the embedding cache, kept by the rebuild: a rebuild embeds only new
            # headings (one call for all of them, ~1 ms a text with the default encoder)
            embedded = dict(zip(missing, self._embed(missing, None)[0], strict=True))
            self._calibration_texts = missing
            found: list[np.ndarray | None] = []
            for text in texts:
                if text not in dense:
                    found.append(None)
                elif text in embedded:
                    found.append(embedded[text])
                else:
                    assert matrix is not None
                    found.append(matrix[rows[text]])
            return found

        try:
            return fit_passage_thresholds(
                index.chunks,
                snapshot.faq.entries,
                language_mask,
                rank,
                lexical,
                vectors,
                _PASSAGE_COVERAGE_EXPONENT,
            )
        except KefuError as exc:  # a remote embedder failed: the configured thresholds
            logger.warning("passage thresholds not calibrated: %s", exc)
            return PassageCalibration({}, f"the embedder failed: {exc}")

    # --- dense and hybrid -------------------------------------------------------------

    def _embedding_cache(self) -> EmbeddingCache:
        """The embedder's cache: the one saved in ``index_dir`` the first time, then kept."""
        assert self.embedder is not None
        if self._embeddings is None:
            if self.index_dir is not None:
                self._embeddings = EmbeddingCache.load(self.index_dir, self.embedder)
            else:
                self._embeddings = EmbeddingCache.for_embedder(self.embedder)
        return self._embeddings

    def _embed(
        self, texts: Sequence[str], progress: BuildProgress | None
    ) -> tuple[np.ndarray, EmbedStats]:
        """The vectors of ``texts``: from the cache, the rest embedded in batches."""
        assert self.embedder is not None
        cache = self._embedding_cache()
        if progress is None:
            return cache.embed(self.embedder, texts, workers=self.embed_workers)
        return cache.embed(
            self.embedder,
            texts,
            workers=self.embed_workers,
            on_start=lambda total: progress.start("embed", total),
            on_progress=lambda done: progress.advance("embed", done),
        )

    def _stored_vectors(
        self, chunks: Sequence[Chunk], fingerprint: str, progress: BuildProgress | None
    ) -> tuple[ChunkVectors, EmbedStats]:
        """The passage vectors in the vector store (embedded through the cache only if the
        store lacks this version); if it fails, in memory for now (the next start finds
        them missing in the store and tries again)."""
        assert self.embedder is not None and self.vector_store is not None
        made: list[EmbedStats] = []

        def vectors() -> np.ndarray:
            matrix, stats = self._embed(_chunk_texts(chunks), progress)
            made.append(stats)
            return matrix

        dim = self.embedder.dim
        try:
            stored = store_chunk_vectors(self.vector_store, dim, chunks, vectors, fingerprint)
        except RetrievalError as exc:
            logger.warning("vector store unavailable, passage vectors kept in memory: %s", exc)
            return _vector_index(dim, vectors()), sum(made, EmbedStats())
        return stored, sum(made, EmbedStats())

    def _dense_for(self, query: str) -> bool:
        """Whether the embedder understands the query's language."""
        languages = self.dense_languages
        return languages is None or detect_language(query[:MAX_QUERY_CHARS]) in languages

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
        self, snapshot: _Snapshot, query: str, given: QueryVector | None
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

    def _hybrid_faq(
        self,
        snapshot: _Snapshot,
        query: str,
        top_k: int,
        vector: np.ndarray,
        extra: np.ndarray | None = None,
    ) -> list[FaqHit]:
        faq, fusion = snapshot.faq, self._fusion
        assert snapshot.faq_vectors is not None and fusion is not None
        if top_k <= 0 or not faq.entries:
            return []
        starts = faq.scorer.entry_starts
        similarities = snapshot.faq_vectors.similarities(vector)
        voted, cosine_forms = entry_cosine(
            similarities,
            snapshot.faq_hubness,
            starts,
            self._form_voting.get(detect_language(query[:MAX_QUERY_CHARS])),
        )
        scores: dict[int, float] = {}
        if fusion.retrievers == "dense":
            form_relevance = np.zeros(len(faq.forms))
        else:
            form_relevance, scores = faq.lexical_scores(_query_tokens(query))
        bm25_forms = np.zeros(len(faq.forms))
        if scores:
            bm25_forms[list(scores)] = list(scores.values())
        lexical = np.maximum.reduceat(form_relevance, starts)
        bm25 = np.maximum.reduceat(bm25_forms, starts)
        # Entries are ranked by their forms' vote; the relevance (what the thresholds read)
        # stays that of the best form, the scale the thresholds are calibrated on.
        best = np.maximum.reduceat(similarities, starts)
        relevance = fusion.fuse(lexical, bm25, best)[0]
        rank_key = fusion.fuse(lexical, bm25, voted)[1]
        if snapshot.faq_fusion is not None:  # the FAQ classifier's probability joins in
            relevance, rank_key = snapshot.faq_fusion.fuse(
                relevance, rank_key, query, vector, extra
            )
        dense = fusion.calibrate(best)
        order = np.lexsort((np.arange(len(faq.entries)), -relevance, -rank_key))
        hits: list[FaqHit] = []
        for entry in order.tolist():
            if len(hits) == top_k or relevance[entry] <= 0:
                break
            if lexical[entry] > 0 and lexical[entry] >= dense[entry]:
                form = faq.best_form(entry, form_relevance, scores)[2]
            else:
                own = faq.entry_forms[entry]
                form = own[int(np.argmax(cosine_forms[list(own)]))]
            hits.append(
                FaqHit(
                    entry=faq.entries[entry],
                    score=round(float(rank_key[entry]), 6),
                    relevance=float(relevance[entry]),
                    matched=faq.forms[form],
                )
            )
        return hits

    def _hybrid_passages(
        self,
        snapshot: _Snapshot,
        query: str,
        pool: int,
        allowed: np.ndarray | None,
        filters: Mapping[str, Any] | None,
        vector: np.ndarray,
    ) -> list[ChunkHit]:
        index, fusion = snapshot.chunks, self._fusion
        assert snapshot.chunk_vectors is not None and fusion is not None
        if pool <= 0 or not index.chunks:
            return []
        limit = max(_CANDIDATES, pool)
        dense = dense_scores(snapshot.chunk_vectors, vector, limit, allowed, filters)
        candidates = dense.nearest
        lexicon = index.lexicon
        weighed = lexicon.query(_query_tokens(query))
        bm25: dict[int, float] = {}
        if fusion.retrievers == "hybrid":
            bm25 = dict(lexicon.candidates(weighed.known, limit, allowed))
            candidates = np.union1d(candidates, np.fromiter(bm25, dtype=np.int64))
        if not len(candidates):
            return []
        docs = candidates.tolist()
        lexical = np.zeros(len(docs))
        if fusion.retrievers == "hybrid" and weighed.weight > 0:
            lexical = np.array([_coverage(lexicon, weighed.known, weighed.weight, d) for d in docs])
        scores = np.array([bm25.get(doc, 0.0) for doc in docs])
        relevance, rank_key = fusion.fuse(lexical, scores, dense.cosine_of(candidates))
        order = np.lexsort((-scores, -relevance, -rank_key))[:pool]
        return [
            ChunkHit(
                chunk=index.chunks[docs[i]],
                score=round(float(rank_key[i]), 6),
                relevance=float(relevance[i]),
            )
            for i in order.tolist()
            if relevance[i] > 0 or fusion.retrievers == "dense"
        ]


def _rerank_texts(hits: list[ChunkHit]) -> list[str]:
    return [f"{hit.chunk.heading}\n{hit.chunk.content}".strip() for hit in hits]


def _reranked(hits: list[ChunkHit], scores: Sequence[float]) -> list[ChunkHit]:
    """``hits`` with the reranker's scores as relevance, best first (ties: fused order)."""
    reranked = [
        ChunkHit(chunk=hit.chunk, score=hit.score, relevance=round(score, 4))
        for hit, score in zip(hits, scores, strict=True)
    ]
    reranked.sort(key=lambda hit: hit.relevance, reverse=True)  # stable: fused order
    return reranked


def _cut(hits: list[ChunkHit], top_k: int, min_relevance: float) -> list[ChunkHit]:
    if min_relevance > 0:
        hits = [hit for hit in hits if hit.relevance >= min_relevance]
    return hits[:top_k]


def _lexical_passages(
    index: _ChunkIndex, query: str, top_k: int, allowed: np.ndarray | None
) -> list[ChunkHit]:
    lexicon = index.lexicon
    weighed = lexicon.query(_query_tokens(query))
    limit = max(_CANDIDATES, top_k)
    candidates = lexicon.candidates(weighed.known, limit, allowed) if top_k > 0 else []
    hits: list[ChunkHit] = []
    for doc, score in candidates:
        relevance = _coverage(lexicon, weighed.known, weighed.weight, doc)
        hits.append(ChunkHit(chunk=index.chunks[doc], score=score, relevance=relevance))
    hits.sort(key=lambda hit: (hit.relevance, hit.score), reverse=True)
    return hits[:top_k]


def _coverage(lexicon: Lexicon, known: frozenset[int], weight: float, doc: int) -> float:
    coverage = lexicon.weight_of(known & lexicon.doc_tokens[doc]) / weight
    return round(min(1.0, coverage) ** _PASSAGE_COVERAGE_EXPONENT, 4)


def _chunk_texts(chunks: Sequence[Chunk]) -> list[str]:
    """What is tokenized and embedded of each chunk: its heading and its text."""
    return [f"{c.heading}\n{c.content}" for c in chunks]


def _vector_index(dim: int, matrix: np.ndarray) -> EmbeddedVectorIndex:
    """An in-memory vector index whose row i is ``matrix[i]`` (id ``str(i)``)."""
    index = EmbeddedVectorIndex(dim)
    if len(matrix):
        index.add([str(i) for i in range(len(matrix))], matrix)
    return index


def _load_vectors(folder: Path, rows: int) -> EmbeddedVectorIndex:
    vectors = EmbeddedVectorIndex.open(folder)
    if vectors.count != rows:
        raise ValueError(f"{folder} holds {vectors.count} vectors, not {rows}")
    return vectors


def _query_tokens(query: str) -> list[str]:
    return tokenize(query[:MAX_QUERY_CHARS])[:MAX_QUERY_TOKENS]
