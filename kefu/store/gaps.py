"""Reads for knowledge-gap mining — recent customer questions with their route and trace,
and the disliked ones — and the re-check's record of questions new knowledge answers."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from kefu.core.ids import utcnow
from kefu.core.records import AskedQuestion
from kefu.store.db import as_utc
from kefu.store.models import FeedbackRow, GapResolutionRow, MessageRow, TraceRow

__all__ = ["QuestionRepository"]


class QuestionRepository:
    """Customer questions as stored by turns: nothing is written for gaps on the hot path."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _questions(self, query: Any, disliked: bool) -> list[AskedQuestion]:
        with Session(self._engine) as session:
            rows = session.execute(query).all()
        return [
            AskedQuestion(
                message_id=row.id,
                query=row.query,
                route=row.route,
                created_at=as_utc(row.created_at),
                trace=row.data or {},
                disliked=disliked,
            )
            for row in rows
        ]

    @staticmethod
    def _select(app_id: str, since: datetime) -> Any:
        """The app's customer questions since ``since`` that no re-check resolved."""
        resolved = select(GapResolutionRow.message_id).where(GapResolutionRow.app_id == app_id)
        return (
            select(
                MessageRow.id,
                MessageRow.query,
                MessageRow.route,
                MessageRow.created_at,
                TraceRow.data,
            )
            .outerjoin(TraceRow, TraceRow.message_id == MessageRow.id)
            .where(
                MessageRow.app_id == app_id,
                MessageRow.created_at >= since,
                MessageRow.agent_id.is_(None),
                MessageRow.query != "",
                MessageRow.id.not_in(resolved),
            )
            .order_by(MessageRow.created_at.desc(), MessageRow.id.desc())
        )

    def asked_since(
        self, app_id: str, since: datetime, routes: Sequence[str], limit: int
    ) -> list[AskedQuestion]:
        """The newest ``limit`` customer questions since ``since`` routed one of ``routes``."""
        query = self._select(app_id, since).where(MessageRow.route.in_(list(routes)))
        return self._questions(query.limit(limit), disliked=False)

    def disliked_since(self, app_id: str, since: datetime, limit: int) -> list[AskedQuestion]:
        """The newest ``limit`` questions since ``since`` whose answer the customer disliked."""
        query = self._select(app_id, since).join(
            FeedbackRow,
            (FeedbackRow.message_id == MessageRow.id) & (FeedbackRow.rating == "dislike"),
        )
        return self._questions(query.limit(limit), disliked=True)

    def resolve(self, app_id: str, message_ids: Collection[str], resolved_by: str) -> int:
        """Record that ``message_ids`` are answered now (by ``resolved_by``); how many new."""
        if not message_ids:
            return 0
        with Session(self._engine) as session, session.begin():
            known = set(
                session.scalars(
                    select(GapResolutionRow.message_id).where(
                        GapResolutionRow.message_id.in_(list(message_ids))
                    )
                )
            )
            mine = set(
                session.scalars(
                    select(MessageRow.id).where(
                        MessageRow.app_id == app_id, MessageRow.id.in_(list(message_ids))
                    )
                )
            )
            now = utcnow()
            fresh = sorted(mine - known)
            session.add_all(
                GapResolutionRow(
                    message_id=message_id, app_id=app_id, resolved_by=resolved_by, resolved_at=now
                )
                for message_id in fresh
            )
            return len(fresh)
