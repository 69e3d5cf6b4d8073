"""Tickets (工单): what cannot be solved live, tracked until solved."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from kefu.core.handoff_records import TicketRecord
from kefu.core.ids import new_id, utcnow
from kefu.store.db import as_utc
from kefu.store.models import TicketRow

__all__ = ["TicketRepository"]


def ticket_record(row: TicketRow) -> TicketRecord:
    return TicketRecord(
        id=row.id,
        app_id=row.app_id,
        conversation_id=row.conversation_id,
        title=row.title,
        description=row.description,
        priority=row.priority,
        status=row.status,
        assignee_id=row.assignee_id,
        created_by=row.created_by,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


class TicketRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(
        self,
        *,
        app_id: str,
        conversation_id: str | None,
        title: str,
        description: str,
        priority: str,
        assignee_id: str | None,
        created_by: str,
        ticket_id: str | None = None,
    ) -> TicketRecord:
        now = utcnow()
        row = TicketRow(
            id=ticket_id or new_id(), app_id=app_id, conversation_id=conversation_id,
            title=title, description=description, priority=priority, status="open",
            assignee_id=assignee_id, created_by=created_by, created_at=now, updated_at=now,
        )  # fmt: skip
        with Session(self._engine) as session, session.begin():
            session.add(row)
            session.flush()
            return ticket_record(row)

    def get(self, ticket_id: str) -> TicketRecord | None:
        with Session(self._engine) as session:
            row = session.get(TicketRow, ticket_id)
            return ticket_record(row) if row else None

    def list(
        self,
        *,
        app_ids: Collection[str] | None = None,
        statuses: Collection[str] | None = None,
        assignee_id: str | None = None,
        conversation_id: str | None = None,
        limit: int = 100,
    ) -> list[TicketRecord]:
        """Newest first."""
        query = select(TicketRow).order_by(TicketRow.created_at.desc(), TicketRow.id.desc())
        if app_ids is not None:
            query = query.where(TicketRow.app_id.in_(list(app_ids)))
        if statuses is not None:
            query = query.where(TicketRow.status.in_(list(statuses)))
        if assignee_id is not None:
            query = query.where(TicketRow.assignee_id == assignee_id)
        if conversation_id is not None:
            query = query.where(TicketRow.conversation_id == conversation_id)
        with Session(self._engine) as session:
            return [ticket_record(row) for row in session.scalars(query.limit(limit))]

    def update(self, ticket_id: str, changes: dict[str, Any]) -> TicketRecord | None:
        """Set the given fields (already validated by the caller)."""
        with Session(self._engine) as session, session.begin():
            row = session.get(TicketRow, ticket_id)
            if row is None:
                return None
            for name, value in changes.items():
                setattr(row, name, value)
            row.updated_at = utcnow()
            session.flush()
            return ticket_record(row)
