"""The embedded lexical knowledge index: FAQ matching and passage search over BM25.

BM25 (bm25s) picks candidates; each hit then gets a ``relevance`` in [0, 1] that means the
same thing for every query, so one threshold works:

* FAQ (see ``_faq``): the F1 of two IDF-weighted coverages — how much of the query the
  entry covers and how much of its best-matching form the query covers.
* Passages: how much of the query (IDF-weighted) the chunk's heading and text cover,
  raised to the power 1.5 (a long passage covers many words, so only coverage counts).

Reads are lock-free: :meth:`KnowledgeIndex.rebuild` and :meth:`~KnowledgeIndex.load` build
a new immutable snapshot and swap one reference, so a query sees the old or the new index.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kefu.core.types import Chunk, ChunkHit, FaqEntry, FaqHit
from kefu.knowledge._faq import FaqIndex
from kefu.knowledge._lexicon import Lexicon
from kefu.knowledge._persist import knowledge_fingerprint, read_manifest, save_index
from kefu.knowledge.tokenizer import tokenize

__all__ = ["KnowledgeIndex", "knowledge_fingerprint"]

logger = logging.getLogger(__name__)

MAX_QUERY_CHARS = 1_000  # a longer query is cut before tokenizing, so 100 KB stays fast
MAX_QUERY_TOKENS = 256
_CANDIDATES = 64  # BM25 candidates that get a relevance, per query
# Passage relevance is coverage ** 1.5: the default threshold 0.3 then needs ~45% of the
# query's weight found in the passage, so a passage sharing one word of three falls short.
_PASSAGE_COVERAGE_EXPONENT = 1.5


@dataclass(frozen=True, slots=True)
class _ChunkIndex:
    chunks: tuple[Chunk, ...]
    lexicon: Lexicon

    @classmethod
    def create(cls, chunks: Sequence[Chunk], saved: Path | None = None) -> _ChunkIndex:
        """Index the heading and text of ``chunks``, or load the lexicon ``saved`` for them."""
        if saved is None:
            lexicon = Lexicon.build([tokenize(f"{c.heading}\n{c.content}") for c in chunks], None)
        else:
            lexicon = Lexicon.load(saved, len(chunks), None)
        return cls(tuple(chunks), lexicon)


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """Everything a query reads, swapped in as one reference."""

    faq: FaqIndex
    chunks: _ChunkIndex
    fingerprint: str | None


class KnowledgeIndex:
    """An app's FAQ and passage index; persisted under ``index_dir`` when one is given."""

    def __init__(self, index_dir: Path | None = None) -> None:
        self.index_dir = index_dir
        self._snapshot = _Snapshot(FaqIndex.create(()), _ChunkIndex.create(()), None)
        self._write_lock = threading.Lock()

    @property
    def fingerprint(self) -> str | None:
        """The fingerprint of the knowledge now indexed (None before a rebuild or load)."""
        return self._snapshot.fingerprint

    @property
    def faq_count(self) -> int:
        return len(self._snapshot.faq.entries)

    @property
    def chunk_count(self) -> int:
        return len(self._snapshot.chunks.chunks)

    def rebuild(
        self, faqs: Sequence[FaqEntry], chunks: Sequence[Chunk], fingerprint: str | None = None
    ) -> None:
        """Index ``faqs`` and ``chunks`` from scratch, persist them, and swap them in.

        ``fingerprint`` defaults to :func:`knowledge_fingerprint` of the same knowledge.
        """
        fingerprint = fingerprint or knowledge_fingerprint(faqs, chunks)
        with self._write_lock:
            snapshot = _Snapshot(FaqIndex.create(faqs), _ChunkIndex.create(chunks), fingerprint)
            if self.index_dir is not None:
                lexicons = {"faq": snapshot.faq.lexicon, "chunks": snapshot.chunks.lexicon}
                save_index(self.index_dir, fingerprint, faqs, chunks, lexicons)
            self._snapshot = snapshot

    def load(self, fingerprint: str) -> bool:
        """Swap in the index saved for ``fingerprint``; False if missing or unreadable."""
        if self.index_dir is None:
            return False
        with self._write_lock:
            found = read_manifest(self.index_dir, fingerprint)
            if found is None:
                return False
            folder, faqs, chunks = found
            try:
                snapshot = _Snapshot(
                    FaqIndex.create(faqs, folder / "faq"),
                    _ChunkIndex.create(chunks, folder / "chunks"),
                    fingerprint,
                )
            except (OSError, ValueError, KeyError, IndexError) as exc:
                logger.warning("ignoring a damaged knowledge index in %s: %s", folder, exc)
                return False
            self._snapshot = snapshot
            return True

    def match_faq(self, query: str, top_k: int = 3) -> list[FaqHit]:
        """The FAQ entries that best answer ``query``, best first (at most one hit per entry)."""
        return self._snapshot.faq.match(_query_tokens(query), top_k)

    def search(self, query: str, top_k: int = 3) -> list[ChunkHit]:
        """The document chunks most relevant to ``query``, best first."""
        index = self._snapshot.chunks
        lexicon = index.lexicon
        weighed = lexicon.query(_query_tokens(query))
        candidates = lexicon.candidates(weighed.known, max(_CANDIDATES, top_k)) if top_k > 0 else []
        hits: list[ChunkHit] = []
        for doc, score in candidates:
            coverage = lexicon.weight_of(weighed.known & lexicon.doc_tokens[doc]) / weighed.weight
            relevance = round(min(1.0, coverage) ** _PASSAGE_COVERAGE_EXPONENT, 4)
            hits.append(ChunkHit(chunk=index.chunks[doc], score=score, relevance=relevance))
        hits.sort(key=lambda hit: (hit.relevance, hit.score), reverse=True)
        return hits[:top_k]


def _query_tokens(query: str) -> list[str]:
    return tokenize(query[:MAX_QUERY_CHARS])[:MAX_QUERY_TOKENS]
