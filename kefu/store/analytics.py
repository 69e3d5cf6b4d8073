"""Service analytics' reads: the conversations, turns, hand-over events and ratings of one
app in a time window, as plain facts (``kefu.core.analytics_records``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from kefu.core.analytics_records import (
    ConversationFact,
    CsatFact,
    FeedbackFact,
    HandoffEventFact,
    ServiceHistory,
    TurnFact,
)
from kefu.store.db import as_utc
from kefu.store.models import (
    AgentRow,
    ConversationRow,
    CsatRow,
    FeedbackRow,
    HandoffEventRow,
    MessageRow,
)

__all__ = ["AnalyticsRepository"]


def _tokens(usage: Any, name: str) -> int:
    value = usage.get(name) if isinstance(usage, dict) else None
    return value if isinstance(value, int) and value >= 0 else 0


class AnalyticsRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def history(self, app_id: str, since: datetime, until: datetime) -> ServiceHistory:
        """Everything the figures of ``[since, until)`` need, in a few indexed reads."""
        history = ServiceHistory(since=since, until=until)
        with Session(self._engine) as session:
            for row in session.execute(
                select(
                    ConversationRow.id,
                    ConversationRow.created_at,
                    ConversationRow.handoff_at,
                    ConversationRow.handoff_reason,
                ).where(
                    ConversationRow.app_id == app_id,
                    ConversationRow.created_at >= since,
                    ConversationRow.created_at < until,
                )
            ):
                history.conversations.append(
                    ConversationFact(
                        id=row.id,
                        created_at=as_utc(row.created_at),
                        handoff_at=as_utc(row.handoff_at) if row.handoff_at else None,
                        handoff_reason=row.handoff_reason,
                    )
                )
            for row in session.execute(
                select(
                    MessageRow.conversation_id,
                    MessageRow.created_at,
                    MessageRow.route,
                    MessageRow.intent,
                    MessageRow.agent_id,
                    MessageRow.usage,
                ).where(
                    MessageRow.app_id == app_id,
                    MessageRow.created_at >= since,
                    MessageRow.created_at < until,
                )
            ):
                history.turns.append(
                    TurnFact(
                        conversation_id=row.conversation_id,
                        created_at=as_utc(row.created_at),
                        route=row.route,
                        intent=row.intent,
                        by_agent=row.agent_id is not None,
                        prompt_tokens=_tokens(row.usage, "prompt_tokens"),
                        completion_tokens=_tokens(row.usage, "completion_tokens"),
                    )
                )
            for event in session.scalars(
                select(HandoffEventRow)
                .where(
                    HandoffEventRow.app_id == app_id,
                    HandoffEventRow.at >= since,
                    HandoffEventRow.at < until,
                )
                .order_by(HandoffEventRow.at, HandoffEventRow.id)
            ):
                history.events.append(
                    HandoffEventFact(
                        conversation_id=event.conversation_id,
                        from_state=event.from_state,
                        to_state=event.to_state,
                        agent_id=event.agent_id,
                        reason=event.reason,
                        at=as_utc(event.at),
                    )
                )
            for rating, created_at in session.execute(
                select(FeedbackRow.rating, FeedbackRow.created_at).where(
                    FeedbackRow.app_id == app_id,
                    FeedbackRow.created_at >= since,
                    FeedbackRow.created_at < until,
                )
            ):
                history.feedback.append(FeedbackFact(rating, as_utc(created_at)))
            for score, agent_id, created_at in session.execute(
                select(CsatRow.rating, CsatRow.agent_id, CsatRow.created_at).where(
                    CsatRow.app_id == app_id,
                    CsatRow.created_at >= since,
                    CsatRow.created_at < until,
                )
            ):
                history.csat.append(CsatFact(score, agent_id, as_utc(created_at)))
            history.agent_names.update(session.execute(select(AgentRow.id, AgentRow.name)).all())
        return history
