"""How a query is matched against a :class:`~kefu.knowledge._index_snapshot.Snapshot`: FAQ
entries and passages, lexical or hybrid, and the reranker's rescoring.

Pure functions of the snapshot and the query (and its vectors): the index's query methods,
its build-time calibration (``_index_fit.py``) and the held-out matches it fits on all
score the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from kefu.core.types import ChunkHit, FaqHit
from kefu.knowledge._dense_passages import dense_scores
from kefu.knowledge._faq import FaqIndex
from kefu.knowledge._faq_fusion import FormVoting, entry_cosine, votes_best_form
from kefu.knowledge._fusion import Fusion
from kefu.knowledge._index_snapshot import ChunkIndex, Snapshot
from kefu.knowledge._lexicon import Lexicon
from kefu.knowledge.tokenizer import detect_language, tokenize_question

__all__ = [
    "MAX_QUERY_CHARS",
    "MAX_QUERY_TOKENS",
    "PASSAGE_COVERAGE_EXPONENT",
    "Scoring",
    "cut",
    "lexical_passages",
    "query_tokens",
    "ranked_faq_hits",
    "rerank_texts",
    "reranked",
]

MAX_QUERY_CHARS = 1_000  # a longer query is cut before tokenizing, so 100 KB stays fast
MAX_QUERY_TOKENS = 256
_CANDIDATES = 64  # BM25 (and dense) candidates that get a relevance, per query
# Passage relevance is coverage ** 1.5: the default threshold 0.3 then needs ~45% of the
# query's weight found in the passage, so a passage sharing one word of three falls short.
PASSAGE_COVERAGE_EXPONENT = 1.5


@dataclass(frozen=True, slots=True)
class Scoring:
    """How an index scores queries with vectors: its ``fusion`` of lexical and dense
    relevance (None: lexical only), its FAQ forms' ``form_voting`` per language and the
    languages its embedder understands (``dense_languages``, None: every one)."""

    fusion: Fusion | None
    form_voting: dict[str, FormVoting]
    dense_languages: frozenset[str] | None

    def dense_for(self, query: str) -> bool:
        """Whether the embedder understands the query's language."""
        languages = self.dense_languages
        return languages is None or detect_language(query[:MAX_QUERY_CHARS]) in languages

    def hybrid_faq(
        self,
        snapshot: Snapshot,
        query: str,
        top_k: int,
        vector: np.ndarray,
        extra: np.ndarray | None = None,
    ) -> list[FaqHit]:
        """The FAQ entries best matching ``query`` (embedded: ``vector``; ``extra``: by the
        classifier's second encoder), lexical and dense relevance fused."""
        faq, fusion = snapshot.faq, self.fusion
        assert snapshot.faq_vectors is not None and fusion is not None
        if top_k <= 0 or not faq.entries:
            return []
        starts = faq.scorer.entry_starts
        similarities = snapshot.faq_vectors.similarities(vector)
        voting = self.form_voting.get(detect_language(query[:MAX_QUERY_CHARS]))
        scores: dict[int, float] = {}
        if fusion.retrievers == "dense":
            form_relevance = np.zeros(len(faq.forms))
        else:
            form_relevance, scores = faq.lexical_scores(query_tokens(query))
        lexical = np.maximum.reduceat(form_relevance, starts)
        bm25 = np.zeros(len(starts))
        if scores and fusion.reads_bm25:
            bm25_forms = np.zeros(len(faq.forms))
            bm25_forms[list(scores)] = list(scores.values())
            bm25 = np.maximum.reduceat(bm25_forms, starts)
        # Entries are ranked by their forms' vote; the relevance (what the thresholds read)
        # stays that of the best form, the scale the thresholds are calibrated on.
        best = np.maximum.reduceat(similarities, starts)
        relevance, rank_key = fusion.fuse(lexical, bm25, best)
        cosine_forms: np.ndarray = similarities
        if not votes_best_form(voting, snapshot.faq_hubness):  # else ranked as relevance
            voted, cosine_forms = entry_cosine(
                similarities, snapshot.faq_hubness, starts, voting, faq.scorer.form_grid
            )
            rank_key = fusion.fuse(lexical, bm25, voted)[1]
        if snapshot.faq_fusion is not None:  # the FAQ classifier's probability joins in
            relevance, rank_key = snapshot.faq_fusion.fuse(
                relevance, rank_key, query, vector, extra
            )
        dense = fusion.calibrate(best)
        return ranked_faq_hits(
            faq, relevance, rank_key, lexical, dense, form_relevance, scores, cosine_forms, top_k
        )

    def hybrid_passages(
        self,
        snapshot: Snapshot,
        query: str,
        pool: int,
        allowed: np.ndarray | None,
        filters: Mapping[str, Any] | None,
        vector: np.ndarray,
    ) -> list[ChunkHit]:
        """The ``pool`` passages best matching ``query`` (embedded: ``vector``) among those
        ``allowed``, lexical and dense relevance fused."""
        index, fusion = snapshot.chunks, self.fusion
        assert snapshot.chunk_vectors is not None and fusion is not None
        if pool <= 0 or not index.chunks:
            return []
        limit = max(_CANDIDATES, pool)
        dense = dense_scores(snapshot.chunk_vectors, vector, limit, allowed, filters)
        candidates = dense.nearest
        lexicon = index.lexicon
        weighed = lexicon.query(query_tokens(query))
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


def lexical_passages(
    index: ChunkIndex, query: str, top_k: int, allowed: np.ndarray | None
) -> list[ChunkHit]:
    """The ``top_k`` passages of ``index`` (among those ``allowed``) that cover most of
    ``query``, by BM25's candidates."""
    lexicon = index.lexicon
    weighed = lexicon.query(query_tokens(query))
    limit = max(_CANDIDATES, top_k)
    candidates = lexicon.candidates(weighed.known, limit, allowed) if top_k > 0 else []
    hits: list[ChunkHit] = []
    for doc, score in candidates:
        relevance = _coverage(lexicon, weighed.known, weighed.weight, doc)
        hits.append(ChunkHit(chunk=index.chunks[doc], score=score, relevance=relevance))
    hits.sort(key=lambda hit: (hit.relevance, hit.score), reverse=True)
    return hits[:top_k]


def rerank_texts(hits: list[ChunkHit]) -> list[str]:
    """What the reranker reads of each passage: its heading and its text."""
    return [f"{hit.chunk.heading}\n{hit.chunk.content}".strip() for hit in hits]


def reranked(hits: list[ChunkHit], scores: Sequence[float]) -> list[ChunkHit]:
    """``hits`` with the reranker's scores as relevance, best first (ties: fused order)."""
    rescored = [
        ChunkHit(chunk=hit.chunk, score=hit.score, relevance=round(score, 4))
        for hit, score in zip(hits, scores, strict=True)
    ]
    rescored.sort(key=lambda hit: hit.relevance, reverse=True)  # stable: fused order
    return rescored


def cut(hits: list[ChunkHit], top_k: int, min_relevance: float) -> list[ChunkHit]:
    """The first ``top_k`` of ``hits`` whose relevance reaches ``min_relevance``."""
    if min_relevance > 0:
        hits = [hit for hit in hits if hit.relevance >= min_relevance]
    return hits[:top_k]


def query_tokens(query: str) -> tuple[str, ...]:
    """The tokens a query is matched by (cut to MAX_QUERY_CHARS, then MAX_QUERY_TOKENS)."""
    return tokenize_question(query[:MAX_QUERY_CHARS])[:MAX_QUERY_TOKENS]


def _coverage(lexicon: Lexicon, known: frozenset[int], weight: float, doc: int) -> float:
    coverage = lexicon.weight_of(known & lexicon.doc_tokens[doc]) / weight
    return round(min(1.0, coverage) ** PASSAGE_COVERAGE_EXPONENT, 4)


def ranked_faq_hits(
    faq: FaqIndex,
    relevance: np.ndarray,
    rank_key: np.ndarray,
    lexical: np.ndarray,
    dense: np.ndarray,
    form_relevance: np.ndarray,
    scores: dict[int, float],
    cosine_forms: np.ndarray,
    top_k: int,
) -> list[FaqHit]:
    """The best ``top_k`` entries with a relevance, by ``rank_key`` then ``relevance``, each
    with the form that matched: the lexically best where the words decided, else the form
    closest in meaning."""
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
