"""Records the store hands to the engine and the engine to the API (no ORM objects leak)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "AnnotationRecord",
    "AnnotationSettings",
    "ApiKeyRecord",
    "AppRecord",
    "AskedQuestion",
    "ConversationRecord",
    "DatasetRecord",
    "DocumentRecord",
    "MessageRecord",
    "SegmentDraft",
    "SegmentRecord",
    "TraceRecord",
    "TurnRecord",
]


@dataclass(frozen=True, slots=True)
class AppRecord:
    id: str
    name: str
    config: dict[str, Any]
    knowledge_revision: int


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """A stored key as operators see it: never the key, only its prefix."""

    id: str
    app_id: str | None
    kind: str
    prefix: str
    created_at: datetime
    revoked: bool


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    id: str
    app_id: str
    end_user_id: str
    name: str
    inputs: dict[str, Any]
    status: str
    message_count: int
    created_at: datetime
    updated_at: datetime
    dialog_state: dict[str, Any] | None = None
    handoff_state: str = "bot"  # bot | pending_human | human | resolved (kefu.handoff.states)
    assigned_agent_id: str | None = None
    handoff_at: datetime | None = None
    handoff_reason: str | None = None
    handoff_note: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class MessageRecord:
    id: str
    app_id: str
    conversation_id: str
    end_user_id: str
    query: str
    answer: str
    inputs: dict[str, Any]
    status: str
    route: str
    language: str
    retriever_resources: list[dict[str, Any]]
    usage: dict[str, Any]
    latency_ms: float
    error: str | None
    created_at: datetime
    feedback_rating: str | None = None
    intent: str | None = None
    sentiment: str | None = None
    agent_id: str | None = None  # set on an agent's reply
    agent_name: str | None = None


@dataclass(frozen=True, slots=True)
class TraceRecord:
    message_id: str
    app_id: str
    trace_id: str
    data: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    id: str
    app_id: str
    name: str
    source: str
    origin: str
    kind: str
    content_hash: str
    meta: dict[str, Any]
    chunk_count: int
    created_at: datetime
    updated_at: datetime
    dataset_id: str | None = None  # None: the app's default dataset
    revision: int = 0  # the app's knowledge revision that wrote its current content


@dataclass(frozen=True, slots=True)
class DatasetRecord:
    """A named group of an app's documents (the knowledge API's dataset)."""

    id: str
    app_id: str
    name: str
    description: str
    document_count: int
    word_count: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SegmentRecord:
    """A piece of a document as the knowledge API shows it: a chunk, or an FAQ entry
    (``content`` its question, ``answer`` its answer)."""

    id: str
    document_id: str
    position: int
    content: str
    answer: str = ""
    heading: str = ""
    variants: tuple[str, ...] = ()
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SegmentDraft:
    """A segment to add, or the new text of one: a chunk's text, or an FAQ entry's question
    (``content``) and ``answer``."""

    content: str
    answer: str = ""
    variants: tuple[str, ...] = ()  # an FAQ entry's other phrasings


@dataclass(frozen=True, slots=True)
class AnnotationRecord:
    id: str
    app_id: str
    question: str
    answer: str
    hit_count: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class AnnotationSettings:
    """An app's annotation reply: off until enabled; ``score_threshold`` is FAQ relevance."""

    enabled: bool = False
    score_threshold: float = 0.9
    embedding_provider_name: str | None = None
    embedding_model_name: str | None = None
    job_id: str | None = None


@dataclass(frozen=True, slots=True)
class AskedQuestion:
    """A stored customer question with how it was routed (knowledge-gap mining)."""

    message_id: str
    query: str
    route: str
    created_at: datetime
    trace: dict[str, Any]
    disliked: bool = False  # the customer disliked the answer (whatever its route)


@dataclass(slots=True)
class TurnRecord:
    """Everything one turn writes, in one transaction.

    ``new_conversation`` is set when the turn opened the conversation; otherwise the
    conversation's ``updated_at`` and message count are bumped.
    """

    app_id: str
    end_user_id: str
    end_user_external_id: str
    conversation_id: str
    message: MessageRecord
    trace: TraceRecord
    new_conversation: ConversationRecord | None = None
    dialog_state: dict[str, Any] | None = None  # None: unchanged
