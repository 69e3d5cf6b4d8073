"""The app's feedback, newest first (Dify's ``GET /v1/app/feedbacks``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from kefu.store.db import as_utc
from kefu.store.models import FeedbackRow, MessageRow

__all__ = ["FeedbackRecord", "list_feedbacks"]


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    id: str
    app_id: str
    conversation_id: str
    message_id: str
    end_user_id: str
    rating: str
    content: str | None
    created_at: datetime
    updated_at: datetime


def list_feedbacks(engine: Engine, app_id: str, page: int, limit: int) -> list[FeedbackRecord]:
    """One page (from 1) of the app's likes and dislikes, newest first."""
    with Session(engine) as session:
        rows = session.execute(
            select(FeedbackRow, MessageRow.conversation_id)
            .join(MessageRow, MessageRow.id == FeedbackRow.message_id)
            .where(FeedbackRow.app_id == app_id)
            .order_by(FeedbackRow.created_at.desc(), FeedbackRow.id.desc())
            .offset((page - 1) * limit)
            .limit(limit)
        )
        return [
            FeedbackRecord(
                id=row.id,
                app_id=row.app_id,
                conversation_id=conversation_id,
                message_id=row.message_id,
                end_user_id=row.end_user_id,
                rating=row.rating,
                content=row.content,
                created_at=as_utc(row.created_at),
                updated_at=as_utc(row.updated_at),
            )
            for row, conversation_id in rows
        ]
