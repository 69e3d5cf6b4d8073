"""Stored conversations as JSONL: what ``kefu export conversations`` writes and
``kefu replay --from`` reads.

One line per conversation (format :data:`FORMAT`)::

    {"format": "kefu-conversations/1", "app": "demo-shop", "id": "…", "user": "u-42",
     "created_at": "2026-12-01T08:00:00Z",
     "turns": [{"message_id": "…", "created_at": "…", "query": "订单多久发货？",
                "answer": "…", "route": "faq", "language": "zh", "intent": null,
                "sentiment": "neutral", "status": "normal", "agent": null,
                "sources": [{"document_name": "faq.jsonl", "segment_id": "faq-zh-001",
                             "score": 1.0}],
                "trace": {"route": "faq", "stages": […], "tool_calls": […]}}]}

``turns`` holds every message in order: the customer's turns and the agents' replies
(``agent`` set, empty ``query``). ``trace`` is the turn's stored trace (null when none was
kept); its ``tool_calls`` carry the recorded results a replay answers tool calls from.
The live database is opened read only (:func:`kefu.store.history.open_read_only`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import make_url
from sqlalchemy.exc import SQLAlchemyError

from kefu.core.errors import InvalidParam, StorageError
from kefu.core.jsonl import read_jsonl
from kefu.store.history import StoredConversation, open_read_only, read_history

__all__ = [
    "FORMAT",
    "ExportedConversation",
    "ExportedTurn",
    "conversations_from_store",
    "read_export",
    "write_export",
]

FORMAT: Literal["kefu-conversations/1"] = "kefu-conversations/1"


class ExportedTurn(BaseModel):
    """One stored message: a customer turn with the bot's answer, or an agent's reply."""

    message_id: str = ""
    created_at: dt.datetime
    query: str
    answer: str = ""
    route: str = ""
    language: str = ""
    intent: str | None = None
    sentiment: str | None = None
    status: str = "normal"
    agent: str | None = Field(None, description="the agent's name on an agent's reply")
    sources: list[dict[str, Any]] = Field(default_factory=list)
    trace: dict[str, Any] | None = None

    @property
    def from_customer(self) -> bool:
        return self.agent is None and bool(self.query.strip())


class ExportedConversation(BaseModel):
    format: Literal["kefu-conversations/1"] = FORMAT
    app: str
    id: str
    user: str = ""
    created_at: dt.datetime
    turns: list[ExportedTurn] = Field(default_factory=list)


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _exported(app: str, stored: StoredConversation) -> ExportedConversation:
    turns = []
    for turn in stored.turns:
        message = turn.message
        turns.append(
            ExportedTurn(
                message_id=message.id,
                created_at=_utc(message.created_at),
                query=message.query,
                answer=message.answer,
                route=message.route,
                language=message.language,
                intent=message.intent,
                sentiment=message.sentiment,
                status=message.status,
                agent=(message.agent_name or message.agent_id) if message.agent_id else None,
                sources=[
                    {key: source.get(key) for key in ("document_name", "segment_id", "score")}
                    for source in message.retriever_resources or []
                    if isinstance(source, dict)
                ],
                trace=turn.trace,
            )
        )
    conversation = stored.conversation
    return ExportedConversation(
        app=app,
        id=conversation.id,
        user=stored.user,
        created_at=_utc(conversation.created_at),
        turns=turns,
    )


def conversations_from_store(
    database_url: str,
    app: str,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int | None = None,
) -> Iterator[ExportedConversation]:
    """The app's conversations started in ``[since, until)``, read without writing."""
    engine = open_read_only(database_url)
    try:
        for stored in read_history(engine, app, since=since, until=until, limit=limit):
            yield _exported(app, stored)
    except SQLAlchemyError as exc:  # not a kefu database, unreachable, not migrated yet …
        where = make_url(database_url).render_as_string(hide_password=True)
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise StorageError(f"cannot read conversations from {where}: {reason}") from None
    finally:
        engine.dispose()


def write_export(conversations: Iterable[ExportedConversation], stream: IO[str]) -> int:
    """One JSON line per conversation; how many were written."""
    count = 0
    for conversation in conversations:
        stream.write(conversation.model_dump_json() + "\n")
        count += 1
    return count


def read_export(path: Path) -> list[ExportedConversation]:
    """The conversations of an export file; a bad line is an ``InvalidParam`` naming it."""
    conversations = []
    for line, value in read_jsonl(path):
        try:
            conversations.append(ExportedConversation.model_validate(value))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "line"
            raise InvalidParam(f"{path}, line {line}: {where}: {first['msg']}") from None
    return conversations
