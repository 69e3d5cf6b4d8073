"""Operator-side storage: the audit log, key revocation and retention."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session

from kefu.core.ids import new_id, utcnow
from kefu.store.db import as_utc
from kefu.store.models import (
    ApiKeyRow,
    AuditRow,
    ConversationRow,
    FeedbackRow,
    MessageRow,
    TraceRow,
)

__all__ = ["AdminRepository", "AuditEntry"]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: str
    at: datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]


class AdminRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def audit(self, actor: str, action: str, target: str, **details: Any) -> None:
        with Session(self._engine) as session, session.begin():
            session.add(
                AuditRow(
                    id=new_id(), at=utcnow(), actor=actor, action=action, target=target,
                    details=details,
                )
            )  # fmt: skip

    def audit_log(self, *, limit: int, before: datetime | None = None) -> list[AuditEntry]:
        with Session(self._engine) as session:
            query = select(AuditRow).order_by(AuditRow.at.desc(), AuditRow.id.desc())
            if before is not None:
                query = query.where(AuditRow.at < before)
            return [
                AuditEntry(r.id, as_utc(r.at), r.actor, r.action, r.target, r.details)
                for r in session.scalars(query.limit(limit))
            ]

    def revoke_key(self, app_id: str, key_id: str) -> bool:
        with Session(self._engine) as session, session.begin():
            result = session.execute(
                update(ApiKeyRow)
                .where(
                    ApiKeyRow.id == key_id,
                    ApiKeyRow.app_id == app_id,
                    ApiKeyRow.revoked_at.is_(None),
                )
                .values(revoked_at=utcnow())
            )
            return bool(getattr(result, "rowcount", 0))

    def purge_before(self, app_id: str, cutoff: datetime) -> dict[str, int]:
        """Delete an app's messages (with traces and feedback) older than ``cutoff``, and
        conversations that were deleted or have no message left."""
        with Session(self._engine) as session, session.begin():
            old = select(MessageRow.id).where(
                MessageRow.app_id == app_id, MessageRow.created_at < cutoff
            )
            traces = session.execute(delete(TraceRow).where(TraceRow.message_id.in_(old)))
            session.execute(delete(FeedbackRow).where(FeedbackRow.message_id.in_(old)))
            messages = session.execute(
                delete(MessageRow).where(
                    MessageRow.app_id == app_id, MessageRow.created_at < cutoff
                )
            )
            live = select(MessageRow.conversation_id).where(MessageRow.app_id == app_id)
            conversations = session.execute(
                delete(ConversationRow).where(
                    ConversationRow.app_id == app_id,
                    ConversationRow.updated_at < cutoff,
                    ConversationRow.id.not_in(live),
                )
            )
            return {
                "messages": int(getattr(messages, "rowcount", 0)),
                "traces": int(getattr(traces, "rowcount", 0)),
                "conversations": int(getattr(conversations, "rowcount", 0)),
            }
