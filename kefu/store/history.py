"""Stored conversations with their messages and traces, for export and replay; read only.

:func:`open_read_only` opens a database without migrating it and, for SQLite, in the
driver's read-only mode: exporting or replaying the live store can never write to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event, func, make_url, select
from sqlalchemy.orm import Session

from kefu.store.conversations import conversation_record, message_record
from kefu.store.models import (
    AppRow,
    Base,
    ConversationRow,
    EndUserRow,
    MessageRow,
    TraceRow,
)

__all__ = ["StoredConversation", "StoredTurn", "count_rows", "open_read_only", "read_history"]


@dataclass(frozen=True, slots=True)
class StoredTurn:
    """A message (customer turn or agent reply) and its trace (None: none was kept)."""

    message: Any  # kefu.core.records.MessageRecord
    trace: dict[str, Any] | None


@dataclass(slots=True)
class StoredConversation:
    conversation: Any  # kefu.core.records.ConversationRecord
    user: str  # the end user's id as the app's client gave it
    turns: list[StoredTurn] = field(default_factory=list)


def open_read_only(url: str) -> Engine:
    """An engine that cannot write: SQLite opened ``mode=ro`` and ``query_only``, PostgreSQL
    with read-only transactions; another database gets only the SELECTs this module issues."""
    if url.startswith("sqlite"):
        database = make_url(url).database or ""
        engine = create_engine(
            f"sqlite:///file:{database}?mode=ro&uri=true",
            json_deserializer=orjson.loads,
        )

        @event.listens_for(engine, "connect")
        def _query_only(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA query_only=ON")
            cursor.close()

        return engine
    connect_args: dict[str, Any] = {}
    if url.startswith("postgresql"):  # every transaction of this engine is read only
        connect_args["options"] = "-c default_transaction_read_only=on"
    return create_engine(
        url, pool_pre_ping=True, json_deserializer=orjson.loads, connect_args=connect_args
    )


def read_history(
    engine: Engine,
    app_name: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> Iterator[StoredConversation]:
    """The app's conversations started in ``[since, until)``, oldest first, each with every
    message (oldest first) and its trace. Deleted conversations are left out. Yields nothing
    for an app the store does not know."""
    with Session(engine) as session:
        app_id = session.scalar(select(AppRow.id).where(AppRow.name == app_name))
        if app_id is None:
            return
        query = (
            select(ConversationRow, EndUserRow.external_id)
            .join(EndUserRow, EndUserRow.id == ConversationRow.end_user_id)
            .where(ConversationRow.app_id == app_id, ConversationRow.deleted_at.is_(None))
        )
        if since is not None:
            query = query.where(ConversationRow.created_at >= _bound(engine, since))
        if until is not None:
            query = query.where(ConversationRow.created_at < _bound(engine, until))
        query = query.order_by(ConversationRow.created_at, ConversationRow.id)
        if limit is not None:
            query = query.limit(limit)
        for row, user in session.execute(query).all():
            stored = StoredConversation(conversation_record(row), user)
            messages = session.execute(
                select(MessageRow, TraceRow.data)
                .outerjoin(TraceRow, TraceRow.message_id == MessageRow.id)
                .where(MessageRow.conversation_id == row.id)
                .order_by(MessageRow.created_at, MessageRow.id)
            ).all()
            stored.turns = [StoredTurn(message_record(m), data) for m, data in messages]
            yield stored


def _bound(engine: Engine, moment: datetime) -> datetime:
    """SQLite keeps kefu's UTC times without a zone: compare like with like."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment
    return moment.replace(tzinfo=None) if engine.dialect.name == "sqlite" else moment


def count_rows(engine: Engine) -> dict[str, int]:
    """Rows per table: what a test compares before and after a replay."""
    with Session(engine) as session:
        return {
            name: int(session.scalar(select(func.count()).select_from(table)) or 0)
            for name, table in Base.metadata.tables.items()
        }
