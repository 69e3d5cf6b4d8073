"""Hand-over storage: conversation states (compare-and-set), the inbox, agent replies,
internal notes and CSAT ratings."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, select, update
from sqlalchemy.orm import Session

from kefu.core.handoff_records import CsatRecord, InboxItem, NoteRecord
from kefu.core.ids import new_id, utcnow
from kefu.core.records import ConversationRecord, MessageRecord
from kefu.store.conversations import (
    ConversationRepository,
    conversation_record,
    message_record,
)
from kefu.store.db import as_utc, once_more_on_conflict
from kefu.store.models import (
    AgentNoteRow,
    AgentRow,
    ConversationRow,
    CsatRow,
    EndUserRow,
    HandoffEventRow,
    MessageRow,
)

__all__ = ["AGENT_ROUTE", "UNSET", "HandoffRepository"]

AGENT_ROUTE = "agent"  # the route stored on an agent's reply
UNSET: Any = object()


def _note(row: AgentNoteRow) -> NoteRecord:
    return NoteRecord(
        row.id, row.conversation_id, row.agent_id, row.agent_name, row.body, as_utc(row.created_at)
    )


def _csat(row: CsatRow) -> CsatRecord:
    return CsatRecord(
        row.id, row.app_id, row.conversation_id, row.agent_id, as_utc(row.handoff_at),
        row.rating, row.comment, as_utc(row.created_at),
    )  # fmt: skip


class HandoffRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def conversation(self, conversation_id: str) -> ConversationRecord | None:
        """Any app's conversation (agents work across apps); deleted ones are gone."""
        with Session(self._engine) as session:
            row = session.scalar(
                select(ConversationRow).where(
                    ConversationRow.id == conversation_id, ConversationRow.deleted_at.is_(None)
                )
            )
            return conversation_record(row) if row else None

    def end_user_external_id(self, end_user_id: str) -> str | None:
        with Session(self._engine) as session:
            return session.scalar(
                select(EndUserRow.external_id).where(EndUserRow.id == end_user_id)
            )

    def move(
        self,
        conversation_id: str,
        *,
        expected_state: str,
        expected_agent: str | None = UNSET,
        **values: Any,
    ) -> ConversationRecord | None:
        """Set ``values`` only if the conversation is still as the caller saw it.

        Two agents claiming at once: one update matches, the other gets ``None``.
        """
        conditions = [
            ConversationRow.id == conversation_id,
            ConversationRow.handoff_state == expected_state,
            ConversationRow.deleted_at.is_(None),
        ]
        if expected_agent is not UNSET:
            conditions.append(
                ConversationRow.assigned_agent_id.is_(None)
                if expected_agent is None
                else ConversationRow.assigned_agent_id == expected_agent
            )
        with Session(self._engine) as session, session.begin():
            result = session.execute(update(ConversationRow).where(*conditions).values(**values))
            if not getattr(result, "rowcount", 0):
                return None
            row = session.get(ConversationRow, conversation_id)
            if row is None:
                return None
            if "handoff_state" in values:  # the history analytics read, in the same commit
                session.add(
                    HandoffEventRow(
                        id=new_id(),
                        app_id=row.app_id,
                        conversation_id=conversation_id,
                        from_state=expected_state,
                        to_state=values["handoff_state"],
                        agent_id=row.assigned_agent_id,
                        reason=values.get("handoff_reason"),
                        at=utcnow(),
                    )
                )
            return conversation_record(row)

    def add_to_note(self, conversation_id: str, handoff_at: datetime, **entries: Any) -> bool:
        """Add ``entries`` to the handover note of the hand-over that began at
        ``handoff_at``, whoever has claimed it since; False if it is over or another began."""
        with Session(self._engine) as session, session.begin():
            row = session.get(ConversationRow, conversation_id)
            if row is None or row.deleted_at is not None or row.handoff_at is None:
                return False
            if as_utc(row.handoff_at) != as_utc(handoff_at):
                return False
            row.handoff_note = {**(row.handoff_note or {}), **entries}
            return True

    def inbox(
        self,
        states: Collection[str],
        *,
        app_ids: Collection[str] | None = None,
        agent_id: str | None = None,
        waiting_since: datetime | None = None,
        limit: int = 100,
    ) -> list[InboxItem]:
        """Conversations in ``states``, longest waiting first."""
        last_query = (
            select(MessageRow.query)
            .where(MessageRow.conversation_id == ConversationRow.id, MessageRow.query != "")
            .order_by(MessageRow.created_at.desc(), MessageRow.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        query = (
            select(ConversationRow, EndUserRow.external_id, AgentRow.name, last_query)
            .join(EndUserRow, EndUserRow.id == ConversationRow.end_user_id)
            .outerjoin(AgentRow, AgentRow.id == ConversationRow.assigned_agent_id)
            .where(
                ConversationRow.handoff_state.in_(list(states)),
                ConversationRow.handoff_state != "bot",  # lets the partial index serve it
                ConversationRow.deleted_at.is_(None),
            )
        )
        if app_ids is not None:
            query = query.where(ConversationRow.app_id.in_(list(app_ids)))
        if agent_id is not None:
            query = query.where(ConversationRow.assigned_agent_id == agent_id)
        if waiting_since is not None:
            query = query.where(ConversationRow.handoff_at <= waiting_since)
        query = query.order_by(ConversationRow.handoff_at, ConversationRow.id).limit(limit)
        with Session(self._engine) as session:
            return [
                InboxItem(
                    conversation_id=row.id,
                    app_id=row.app_id,
                    user=external_id,
                    name=row.name,
                    handoff_state=row.handoff_state,
                    handoff_reason=row.handoff_reason,
                    handoff_at=as_utc(row.handoff_at) if row.handoff_at else None,
                    assigned_agent_id=row.assigned_agent_id,
                    assigned_agent_name=agent_name,
                    last_query=last or "",
                    updated_at=as_utc(row.updated_at),
                    message_count=row.message_count,
                )
                for row, external_id, agent_name, last in session.execute(query)
            ]

    def add_agent_message(
        self,
        conversation: ConversationRecord,
        *,
        agent_id: str | None,
        agent_name: str,
        text: str,
        language: str,
    ) -> MessageRecord:
        """An agent's reply, stored as a turn with an empty query so that the history, the
        service API and the model's memory all see it in order."""
        now = utcnow()
        row = MessageRow(
            id=new_id(), app_id=conversation.app_id, conversation_id=conversation.id,
            end_user_id=conversation.end_user_id, query="", answer=text, inputs={},
            status="normal", route=AGENT_ROUTE, language=language, retriever_resources=[],
            usage={}, latency_ms=0.0, error=None, created_at=now, intent=None, sentiment=None,
            agent_id=agent_id, agent_name=agent_name,
        )  # fmt: skip
        with Session(self._engine) as session, session.begin():
            session.add(row)
            session.execute(
                update(ConversationRow)
                .where(ConversationRow.id == conversation.id)
                .values(message_count=ConversationRow.message_count + 1, updated_at=now)
            )
            session.flush()
            return message_record(row)

    def recent_messages(self, conversation: ConversationRecord, limit: int) -> list[MessageRecord]:
        """The last ``limit`` messages with their like/dislike, oldest first (the console)."""
        messages, _ = ConversationRepository(self._engine).messages(
            conversation.app_id, conversation.end_user_id, conversation.id,
            first_id=None, limit=limit,
        )  # fmt: skip
        return messages

    def add_note(
        self, conversation: ConversationRecord, agent_id: str | None, agent_name: str, body: str
    ) -> NoteRecord:
        row = AgentNoteRow(
            id=new_id(), app_id=conversation.app_id, conversation_id=conversation.id,
            agent_id=agent_id, agent_name=agent_name, body=body, created_at=utcnow(),
        )  # fmt: skip
        with Session(self._engine) as session, session.begin():
            session.add(row)
            session.flush()
            return _note(row)

    def notes(self, conversation_id: str) -> list[NoteRecord]:
        with Session(self._engine) as session:
            rows = session.scalars(
                select(AgentNoteRow)
                .where(AgentNoteRow.conversation_id == conversation_id)
                .order_by(AgentNoteRow.created_at, AgentNoteRow.id)
            )
            return [_note(row) for row in rows]

    def save_csat(
        self, conversation: ConversationRecord, rating: int, comment: str | None
    ) -> CsatRecord:
        """The rating of the conversation's last hand-over (a second one replaces the first)."""
        return once_more_on_conflict(lambda: self._save_csat(conversation, rating, comment))

    def _save_csat(
        self, conversation: ConversationRecord, rating: int, comment: str | None
    ) -> CsatRecord:
        assert conversation.handoff_at is not None
        with Session(self._engine) as session, session.begin():
            row = session.scalar(
                select(CsatRow).where(
                    and_(
                        CsatRow.conversation_id == conversation.id,
                        CsatRow.handoff_at == conversation.handoff_at,
                    )
                )
            )
            if row is None:
                row = CsatRow(
                    id=new_id(), app_id=conversation.app_id, conversation_id=conversation.id,
                    agent_id=conversation.assigned_agent_id, handoff_at=conversation.handoff_at,
                    rating=rating, comment=comment, created_at=utcnow(),
                )  # fmt: skip
                session.add(row)
            else:
                row.rating, row.comment, row.created_at = rating, comment, utcnow()
            session.flush()
            return _csat(row)

    def csat(self, *, app_ids: Collection[str] | None = None, limit: int = 100) -> list[CsatRecord]:
        with Session(self._engine) as session:
            query = (
                select(CsatRow).order_by(CsatRow.created_at.desc(), CsatRow.id.desc()).limit(limit)
            )
            if app_ids is not None:
                query = query.where(CsatRow.app_id.in_(list(app_ids)))
            return [_csat(row) for row in session.scalars(query)]
