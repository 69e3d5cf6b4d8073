"""Tickets (工单): fields, allowed values and status changes."""

from __future__ import annotations

from typing import Any

from kefu.core.errors import Conflict, InvalidParam, NotFound
from kefu.core.handoff_records import TicketRecord
from kefu.store import Store

__all__ = ["PRIORITIES", "STATUSES", "TicketDesk"]

PRIORITIES = ("low", "normal", "high", "urgent")
STATUSES = ("open", "pending", "solved", "closed")  # closed is final
MAX_TITLE = 255
MAX_DESCRIPTION = 20_000


def _title(value: str) -> str:
    title = value.strip()
    if not title:
        raise InvalidParam("title is required")
    if len(title) > MAX_TITLE:
        raise InvalidParam(f"title is too long: at most {MAX_TITLE} characters")
    return title


def _description(value: str) -> str:
    if len(value) > MAX_DESCRIPTION:
        raise InvalidParam(f"description is too long: at most {MAX_DESCRIPTION} characters")
    return value


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InvalidParam(f"{name} must be one of {', '.join(allowed)}")
    return value


class TicketDesk:
    def __init__(self, store: Store) -> None:
        self._store = store

    def create(
        self,
        *,
        app_id: str,
        conversation_id: str | None,
        title: str,
        description: str = "",
        priority: str = "normal",
        assignee_id: str | None = None,
        created_by: str,
        ticket_id: str | None = None,
    ) -> TicketRecord:
        return self._store.tickets.create(
            app_id=app_id,
            conversation_id=conversation_id,
            title=_title(title),
            description=_description(description),
            priority=_choice("priority", priority, PRIORITIES),
            assignee_id=self._assignee(assignee_id),
            created_by=created_by,
            ticket_id=ticket_id,
        )

    def get(self, ticket_id: str) -> TicketRecord:
        ticket = self._store.tickets.get(ticket_id)
        if ticket is None:
            raise NotFound("Ticket Not Exists.")
        return ticket

    def update(self, ticket_id: str, changes: dict[str, Any]) -> TicketRecord:
        """Change title, description, priority, status or assignee (``None``: unassign)."""
        ticket = self.get(ticket_id)
        if ticket.status == "closed":
            raise Conflict("the ticket is closed; open a new one")
        checked: dict[str, Any] = {}
        for name, value in changes.items():
            if value is None and name != "assignee_id":
                raise InvalidParam(f"{name} cannot be null")
            if name == "title":
                checked[name] = _title(value)
            elif name == "description":
                checked[name] = _description(value)
            elif name == "priority":
                checked[name] = _choice("priority", value, PRIORITIES)
            elif name == "status":
                checked[name] = _choice("status", value, STATUSES)
            elif name == "assignee_id":
                checked[name] = self._assignee(value)
            else:
                raise InvalidParam(f"{name} cannot be changed")
        updated = self._store.tickets.update(ticket_id, checked)
        if updated is None:
            raise NotFound("Ticket Not Exists.")
        return updated

    def _assignee(self, agent_id: str | None) -> str | None:
        if agent_id is None:
            return None
        agent = self._store.agents.get(agent_id)
        if agent is None or agent.disabled:
            raise InvalidParam("assignee_id: no such agent")
        return agent_id
