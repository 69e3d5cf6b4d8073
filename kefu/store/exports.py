"""Reads for exports: an app's stored turns in conversation order with their ratings, and
its annotations — streamed in batches so an export of millions of turns stays small."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from kefu.store.db import as_utc
from kefu.store.models import AnnotationRow, FeedbackRow, MessageRow

__all__ = ["ExportRepository", "ExportedTurn"]

BATCH = 1000


@dataclass(frozen=True, slots=True)
class ExportedTurn:
    conversation_id: str
    created_at: datetime
    query: str  # empty for an agent's reply
    answer: str  # empty for a message that waited for an agent
    route: str
    status: str  # normal | stopped | error
    by_agent: bool
    rating: str | None  # like | dislike | None


class ExportRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def count_turns(self, app_id: str, since: datetime, until: datetime) -> int:
        with Session(self._engine) as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(MessageRow)
                    .where(
                        MessageRow.app_id == app_id,
                        MessageRow.created_at >= since,
                        MessageRow.created_at < until,
                    )
                )
                or 0
            )

    def turns(self, app_id: str, since: datetime, until: datetime) -> Iterator[ExportedTurn]:
        """The app's turns created in ``[since, until)``, grouped by conversation and in the
        order they happened, read ``BATCH`` at a time."""
        query = (
            select(
                MessageRow.conversation_id,
                MessageRow.created_at,
                MessageRow.query,
                MessageRow.answer,
                MessageRow.route,
                MessageRow.status,
                MessageRow.agent_id,
                FeedbackRow.rating,
            )
            .outerjoin(FeedbackRow, FeedbackRow.message_id == MessageRow.id)
            .where(
                MessageRow.app_id == app_id,
                MessageRow.created_at >= since,
                MessageRow.created_at < until,
            )
            .order_by(MessageRow.conversation_id, MessageRow.created_at, MessageRow.id)
        )
        with Session(self._engine) as session:
            result = session.execute(query.execution_options(yield_per=BATCH))
            for row in result:
                yield ExportedTurn(
                    conversation_id=row.conversation_id,
                    created_at=as_utc(row.created_at),
                    query=row.query,
                    answer=row.answer,
                    route=row.route,
                    status=row.status,
                    by_agent=row.agent_id is not None,
                    rating=row.rating,
                )

    def annotations(self, app_id: str) -> list[tuple[str, str]]:
        with Session(self._engine) as session:
            rows = session.execute(
                select(AnnotationRow.question, AnnotationRow.answer)
                .where(AnnotationRow.app_id == app_id)
                .order_by(AnnotationRow.created_at, AnnotationRow.id)
            ).all()
        return [(question, answer) for question, answer in rows]
