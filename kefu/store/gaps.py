"""Reads for knowledge-gap mining: recent customer questions with their route and trace."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from kefu.core.records import AskedQuestion
from kefu.store.db import as_utc
from kefu.store.models import MessageRow, TraceRow

__all__ = ["QuestionRepository"]


class QuestionRepository:
    """Customer questions as stored by turns: nothing is written for gaps on the hot path."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def asked_since(
        self, app_id: str, since: datetime, routes: Sequence[str], limit: int
    ) -> list[AskedQuestion]:
        """The newest ``limit`` customer questions since ``since`` routed one of ``routes``."""
        with Session(self._engine) as session:
            rows = session.execute(
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
                    MessageRow.route.in_(list(routes)),
                    MessageRow.agent_id.is_(None),
                    MessageRow.query != "",
                )
                .order_by(MessageRow.created_at.desc(), MessageRow.id.desc())
                .limit(limit)
            ).all()
            return [
                AskedQuestion(
                    message_id=row.id,
                    query=row.query,
                    route=row.route,
                    created_at=as_utc(row.created_at),
                    trace=row.data or {},
                )
                for row in rows
            ]
