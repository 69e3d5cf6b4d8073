"""Records of the human side of kefu: agents, the inbox, notes, tickets, CSAT ratings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "EVERY_APP",
    "AgentRecord",
    "CsatRecord",
    "InboxItem",
    "NoteRecord",
    "TicketRecord",
    "ticket_reference",
]


def ticket_reference(ticket_id: str) -> str:
    """The short number customers see for a ticket: the random tail of its id."""
    return ticket_id.replace("-", "")[-8:].upper()


EVERY_APP = "*"  # in an agent's apps: it serves every app, present and future


@dataclass(frozen=True, slots=True)
class AgentRecord:
    """A human agent; its key is never stored, only the prefix is shown again."""

    id: str
    name: str
    key_prefix: str
    apps: list[str]  # app names it serves; "*": every app (empty: every app, the admin's)
    online: bool
    last_assigned_at: datetime | None
    created_at: datetime
    disabled: bool = False

    def serves(self, app_name: str) -> bool:
        return self.serves_every_app or app_name in self.apps

    @property
    def serves_every_app(self) -> bool:
        return not self.apps or EVERY_APP in self.apps

    def shares_an_app_with(self, other: AgentRecord) -> bool:
        """Colleagues: they serve at least one app in common."""
        if self.serves_every_app or other.serves_every_app:
            return True
        return bool(set(self.apps) & set(other.apps))


@dataclass(frozen=True, slots=True)
class InboxItem:
    """A conversation a human owns or should own, as the agent inbox lists it."""

    conversation_id: str
    app_id: str
    user: str  # the end user's id as the app sent it
    name: str
    handoff_state: str
    handoff_reason: str | None
    handoff_at: datetime | None
    assigned_agent_id: str | None
    assigned_agent_name: str | None
    last_query: str
    updated_at: datetime
    message_count: int


@dataclass(frozen=True, slots=True)
class NoteRecord:
    id: str
    conversation_id: str
    agent_id: str | None
    agent_name: str
    body: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TicketRecord:
    id: str
    app_id: str
    conversation_id: str | None
    title: str
    description: str
    priority: str  # low | normal | high | urgent
    status: str  # open | pending | solved | closed
    assignee_id: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime

    @property
    def reference(self) -> str:
        return ticket_reference(self.id)


@dataclass(frozen=True, slots=True)
class CsatRecord:
    id: str
    app_id: str
    conversation_id: str
    agent_id: str | None
    handoff_at: datetime
    rating: int
    comment: str | None
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "agent_id": self.agent_id,
            "rating": self.rating,
            "comment": self.comment,
            "created_at": int(self.created_at.timestamp()),
        }
