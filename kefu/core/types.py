"""Domain types shared across parts. Plain frozen dataclasses: cheap, typed, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Literal

__all__ = [
    "Chunk",
    "ChunkDraft",
    "ChunkHit",
    "FaqEntry",
    "FaqHit",
    "Language",
    "ParsedDocument",
    "Source",
]

Language = Literal["zh", "en"]


@dataclass(frozen=True, slots=True)
class FaqEntry:
    """A curated question → answer pair. ``variants`` are other ways customers ask it."""

    id: str
    question: str
    answer: str
    variants: tuple[str, ...] = ()
    document_id: str | None = None  # the FAQ file it came from, if any
    document_name: str = ""


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """A document read from disk or an upload, before chunking."""

    name: str
    content: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChunkDraft:
    """A piece of a document before it is stored (no ids yet)."""

    position: int
    content: str
    heading: str = ""  # the heading path the chunk sits under, e.g. "退货政策 > 运费"


@dataclass(frozen=True, slots=True)
class Chunk:
    """A stored, indexed piece of a document."""

    id: str
    document_id: str
    document_name: str
    position: int
    content: str
    heading: str = ""


@dataclass(frozen=True, slots=True)
class FaqHit:
    """An FAQ entry matched to a query.

    ``score`` is the raw lexical score; ``relevance`` in [0, 1] is comparable across
    queries and is what thresholds apply to. ``matched`` is the question or variant hit.
    """

    entry: FaqEntry
    score: float
    relevance: float
    matched: str


@dataclass(frozen=True, slots=True)
class ChunkHit:
    """A document chunk retrieved for a query (``relevance`` in [0, 1], as for FAQ hits)."""

    chunk: Chunk
    score: float
    relevance: float


@dataclass(frozen=True, slots=True)
class Source:
    """A piece of knowledge an answer rests on, numbered as the customer sees it ([1], [2]).

    Stored with the message as its fields (``to_dict``); the API shows them as Dify's
    ``retriever_resources``."""

    position: int
    dataset_id: str
    dataset_name: str
    document_id: str
    document_name: str
    segment_id: str
    score: float
    content: str

    def to_dict(self) -> dict[str, Any]:
        # The field names once per class: ``fields()`` per call showed in the turn's profile.
        return {name: getattr(self, name) for name in _SOURCE_FIELDS}


_SOURCE_FIELDS = tuple(f.name for f in fields(Source))
