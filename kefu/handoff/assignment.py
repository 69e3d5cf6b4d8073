"""Round-robin assignment among the online agents who serve an app."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from kefu.core.handoff_records import AgentRecord

__all__ = ["pick_agent"]

_NEVER = datetime.min.replace(tzinfo=UTC)


def pick_agent(agents: Iterable[AgentRecord], app_name: str) -> AgentRecord | None:
    """The online agent serving ``app_name`` who was given a conversation least recently
    (never-assigned agents first, then by age), or None when nobody is online."""
    candidates = [a for a in agents if a.online and not a.disabled and a.serves(app_name)]
    if not candidates:
        return None
    return min(candidates, key=lambda a: (a.last_assigned_at or _NEVER, a.created_at, a.id))
