"""What service analytics read from the store: the facts of a window, no SQL and no sums.

The store loads these rows for one app and time window; ``kefu.services.analytics`` turns
them into the per-day figures. Keeping the arithmetic out of SQL keeps it the same on
SQLite and PostgreSQL and testable on generated histories.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "ConversationFact",
    "CsatFact",
    "FeedbackFact",
    "HandoffEventFact",
    "ServiceHistory",
    "TurnFact",
]


@dataclass(frozen=True, slots=True)
class ConversationFact:
    id: str
    created_at: datetime
    handoff_at: datetime | None  # the last hand-over's start (None: never handed over)
    handoff_reason: str | None


@dataclass(frozen=True, slots=True)
class TurnFact:
    """A stored message: a customer's turn and the bot's answer, or an agent's reply."""

    conversation_id: str
    created_at: datetime
    route: str
    intent: str | None
    by_agent: bool  # an agent's reply (no customer question in it)
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class HandoffEventFact:
    conversation_id: str
    from_state: str
    to_state: str
    agent_id: str | None
    reason: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class FeedbackFact:
    rating: str  # like | dislike
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CsatFact:
    rating: int  # 1-5
    agent_id: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ServiceHistory:
    """One app's stored facts for ``[since, until)``: conversations started in it, and the
    turns, events and ratings of those conversations and of the window."""

    since: datetime
    until: datetime
    conversations: list[ConversationFact] = field(default_factory=list)
    turns: list[TurnFact] = field(default_factory=list)
    events: list[HandoffEventFact] = field(default_factory=list)
    feedback: list[FeedbackFact] = field(default_factory=list)
    csat: list[CsatFact] = field(default_factory=list)
    agent_names: dict[str, str] = field(default_factory=dict)
