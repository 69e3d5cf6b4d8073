"""Conversations, messages, feedback and traces — always scoped to (app, end user)."""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import Engine, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from kefu.core.ids import new_id, utcnow
from kefu.core.records import ConversationRecord, MessageRecord, TraceRecord
from kefu.store.db import as_utc, once_more_on_conflict
from kefu.store.models import ConversationRow, FeedbackRow, MessageRow, TraceRow

__all__ = ["ConversationRepository"]

ENDED = "ended"  # a conversation's status once it was idle past the session TTL
SortBy = Literal["created_at", "-created_at", "updated_at", "-updated_at"]


def conversation_record(row: ConversationRow) -> ConversationRecord:
    return ConversationRecord(
        id=row.id,
        app_id=row.app_id,
        end_user_id=row.end_user_id,
        name=row.name,
        inputs=row.inputs,
        status=row.status,
        message_count=row.message_count,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        dialog_state=row.dialog_state,
        handoff_state=row.handoff_state,
        assigned_agent_id=row.assigned_agent_id,
        handoff_at=as_utc(row.handoff_at) if row.handoff_at else None,
        handoff_reason=row.handoff_reason,
        handoff_note=row.handoff_note,
    )


def message_record(row: MessageRow, rating: str | None = None) -> MessageRecord:
    return MessageRecord(
        id=row.id,
        app_id=row.app_id,
        conversation_id=row.conversation_id,
        end_user_id=row.end_user_id,
        query=row.query,
        answer=row.answer,
        inputs=row.inputs,
        status=row.status,
        route=row.route,
        language=row.language,
        retriever_resources=row.retriever_resources,
        usage=row.usage,
        latency_ms=row.latency_ms,
        error=row.error,
        created_at=as_utc(row.created_at),
        feedback_rating=rating,
        intent=row.intent,
        sentiment=row.sentiment,
        agent_id=row.agent_id,
        agent_name=row.agent_name,
    )


class ConversationRepository:
    """Every read takes the app and end user, so one user can never see another's data."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, app_id: str, end_user_id: str, conversation_id: str) -> ConversationRecord | None:
        with Session(self._engine) as session:
            row = session.scalar(
                self._owned(app_id, end_user_id).where(ConversationRow.id == conversation_id)
            )
            return conversation_record(row) if row else None

    def list_page(
        self,
        app_id: str,
        end_user_id: str,
        *,
        last_id: str | None,
        limit: int,
        sort_by: SortBy = "-updated_at",
    ) -> tuple[list[ConversationRecord], bool]:
        """A page after ``last_id`` in ``sort_by`` order, and whether more exist."""
        column = ConversationRow.updated_at if "updated" in sort_by else ConversationRow.created_at
        descending = sort_by.startswith("-")
        with Session(self._engine) as session:
            query = self._owned(app_id, end_user_id)
            if last_id:
                anchor = session.scalar(
                    self._owned(app_id, end_user_id).where(ConversationRow.id == last_id)
                )
                if anchor is None:
                    return [], False
                anchor_value = getattr(anchor, column.key)
                if descending:
                    query = query.where(
                        or_(
                            column < anchor_value,
                            and_(column == anchor_value, ConversationRow.id < anchor.id),
                        )
                    )
                else:
                    query = query.where(
                        or_(
                            column > anchor_value,
                            and_(column == anchor_value, ConversationRow.id > anchor.id),
                        )
                    )
            order = (
                (column.desc(), ConversationRow.id.desc())
                if descending
                else (column.asc(), ConversationRow.id.asc())
            )
            rows = list(session.scalars(query.order_by(*order).limit(limit + 1)))
            return [conversation_record(r) for r in rows[:limit]], len(rows) > limit

    def rename(
        self, app_id: str, end_user_id: str, conversation_id: str, name: str
    ) -> ConversationRecord | None:
        with Session(self._engine) as session, session.begin():
            row = session.scalar(
                self._owned(app_id, end_user_id).where(ConversationRow.id == conversation_id)
            )
            if row is None:
                return None
            row.name = name
            row.updated_at = utcnow()
            session.flush()
            return conversation_record(row)

    def end(self, app_id: str, end_user_id: str, conversation_id: str) -> bool:
        """Mark the conversation ``ended`` (idle past the session TTL); False when it was
        ended already or is not there."""
        with Session(self._engine) as session, session.begin():
            result = session.execute(
                update(ConversationRow)
                .where(
                    ConversationRow.id == conversation_id,
                    ConversationRow.app_id == app_id,
                    ConversationRow.end_user_id == end_user_id,
                    ConversationRow.status != ENDED,
                )
                .values(status=ENDED)
            )
            return bool(getattr(result, "rowcount", 0))

    def delete(self, app_id: str, end_user_id: str, conversation_id: str) -> bool:
        """Soft delete: hidden from the API at once, purged later by retention."""
        with Session(self._engine) as session, session.begin():
            result = session.execute(
                update(ConversationRow)
                .where(
                    ConversationRow.id == conversation_id,
                    ConversationRow.app_id == app_id,
                    ConversationRow.end_user_id == end_user_id,
                    ConversationRow.deleted_at.is_(None),
                )
                .values(deleted_at=utcnow())
            )
            return bool(getattr(result, "rowcount", 0))

    def messages(
        self,
        app_id: str,
        end_user_id: str,
        conversation_id: str,
        *,
        first_id: str | None,
        limit: int,
    ) -> tuple[list[MessageRecord], bool]:
        """Messages older than ``first_id`` (newest page first), returned oldest first."""
        with Session(self._engine) as session:
            base = (
                select(MessageRow, FeedbackRow.rating)
                .outerjoin(
                    FeedbackRow,
                    and_(
                        FeedbackRow.message_id == MessageRow.id,
                        FeedbackRow.end_user_id == MessageRow.end_user_id,
                    ),
                )
                .where(
                    MessageRow.app_id == app_id,
                    MessageRow.end_user_id == end_user_id,
                    MessageRow.conversation_id == conversation_id,
                )
            )
            if first_id:
                anchor = session.scalar(
                    select(MessageRow).where(
                        MessageRow.id == first_id,
                        MessageRow.conversation_id == conversation_id,
                        MessageRow.end_user_id == end_user_id,
                    )
                )
                if anchor is None:
                    return [], False
                base = base.where(
                    or_(
                        MessageRow.created_at < anchor.created_at,
                        and_(MessageRow.created_at == anchor.created_at, MessageRow.id < anchor.id),
                    )
                )
            rows = session.execute(
                base.order_by(MessageRow.created_at.desc(), MessageRow.id.desc()).limit(limit + 1)
            ).all()
            page = [message_record(row, rating) for row, rating in rows[:limit]]
            page.reverse()
            return page, len(rows) > limit

    def first_query(self, app_id: str, end_user_id: str, conversation_id: str) -> str | None:
        """What the end user asked first in the conversation (for its default name)."""
        with Session(self._engine) as session:
            return session.scalar(
                select(MessageRow.query)
                .where(
                    MessageRow.app_id == app_id,
                    MessageRow.end_user_id == end_user_id,
                    MessageRow.conversation_id == conversation_id,
                )
                .order_by(MessageRow.created_at, MessageRow.id)
                .limit(1)
            )

    def recent_messages(self, conversation_id: str, count: int) -> list[MessageRecord]:
        """The last ``count`` turns of a conversation, oldest first (the memory window)."""
        if count <= 0:
            return []
        with Session(self._engine) as session:
            rows = list(
                session.scalars(
                    select(MessageRow)
                    .where(MessageRow.conversation_id == conversation_id)
                    .order_by(MessageRow.created_at.desc(), MessageRow.id.desc())
                    .limit(count)
                )
            )
            return [message_record(row) for row in reversed(rows)]

    def get_message(self, app_id: str, message_id: str) -> MessageRecord | None:
        with Session(self._engine) as session:
            row = session.scalar(
                select(MessageRow).where(MessageRow.id == message_id, MessageRow.app_id == app_id)
            )
            return message_record(row) if row else None

    def set_feedback(
        self,
        app_id: str,
        end_user_id: str,
        message_id: str,
        rating: str | None,
        content: str | None,
    ) -> bool:
        """Like/dislike a message the end user received; ``None`` withdraws the rating."""
        return once_more_on_conflict(
            lambda: self._set_feedback(app_id, end_user_id, message_id, rating, content)
        )

    def _set_feedback(
        self,
        app_id: str,
        end_user_id: str,
        message_id: str,
        rating: str | None,
        content: str | None,
    ) -> bool:
        now = utcnow()
        with Session(self._engine) as session, session.begin():
            owned = session.scalar(
                select(func.count())
                .select_from(MessageRow)
                .join(ConversationRow, ConversationRow.id == MessageRow.conversation_id)
                .where(
                    MessageRow.id == message_id,
                    MessageRow.app_id == app_id,
                    MessageRow.end_user_id == end_user_id,
                    ConversationRow.deleted_at.is_(None),
                )
            )
            if not owned:
                return False
            existing = session.scalar(
                select(FeedbackRow).where(
                    FeedbackRow.message_id == message_id, FeedbackRow.end_user_id == end_user_id
                )
            )
            if rating is None:
                if existing is not None:
                    session.execute(delete(FeedbackRow).where(FeedbackRow.id == existing.id))
            elif existing is None:
                session.add(
                    FeedbackRow(
                        id=new_id(),
                        app_id=app_id,
                        message_id=message_id,
                        end_user_id=end_user_id,
                        rating=rating,
                        content=content,
                        created_at=now,
                        updated_at=now,
                    )
                )
            else:
                existing.rating = rating
                existing.content = content
                existing.updated_at = now
            return True

    def get_trace(self, message_id: str, app_id: str | None = None) -> TraceRecord | None:
        with Session(self._engine) as session:
            query = select(TraceRow).where(TraceRow.message_id == message_id)
            if app_id is not None:
                query = query.where(TraceRow.app_id == app_id)
            row = session.scalar(query)
            if row is None:
                return None
            return TraceRecord(
                row.message_id, row.app_id, row.trace_id, row.data, as_utc(row.created_at)
            )

    def count_messages(self, app_id: str) -> int:
        with Session(self._engine) as session:
            query = select(func.count()).select_from(MessageRow).where(MessageRow.app_id == app_id)
            return int(session.scalar(query) or 0)

    @staticmethod
    def _owned(app_id: str, end_user_id: str) -> Any:
        return select(ConversationRow).where(
            ConversationRow.app_id == app_id,
            ConversationRow.end_user_id == end_user_id,
            ConversationRow.deleted_at.is_(None),
        )
