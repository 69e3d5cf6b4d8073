"""Group commit for turns.

Every turn must be durable before its answer is acknowledged, but one SQLite transaction
per turn caps throughput at the disk's commit rate. A single writer thread takes all turns
waiting at that moment and commits them in one transaction; each caller's future resolves
after *its* commit. (SQLite allows one writer anyway, so this loses no parallelism.)
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

from sqlalchemy import Connection, Engine, Table, insert, update

from kefu.core.errors import StorageError
from kefu.core.records import TurnRecord
from kefu.store.db import utcnow
from kefu.store.models import ConversationRow, EndUserRow, MessageRow, TraceRow

__all__ = ["TurnWriter", "write_turns"]

log = logging.getLogger(__name__)

_MESSAGE_COLUMNS = {c.key for c in MessageRow.__table__.columns}
_CONVERSATION_COLUMNS = {c.key for c in ConversationRow.__table__.columns}
_TRACE_COLUMNS = {c.key for c in TraceRow.__table__.columns}


def _columns(record: Any, columns: set[str]) -> dict[str, Any]:
    """A record's fields that are table columns (``asdict`` would deep-copy the JSON)."""
    return {name: getattr(record, name) for name in record.__slots__ if name in columns}


def _insert_ignoring_conflicts(
    connection: Connection, table: Table, rows: list[dict[str, Any]]
) -> None:
    dialect = connection.dialect.name
    dialect_insert: Any
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:  # pragma: no cover - other databases are not supported yet
        raise StorageError(f"unsupported database dialect: {dialect}")
    connection.execute(dialect_insert(table).on_conflict_do_nothing(), rows)


def write_turns(connection: Connection, turns: Sequence[TurnRecord]) -> None:
    """Write turns (end user, conversation, message, trace) inside the caller's transaction."""
    now = utcnow()
    users = {
        t.end_user_id: {
            "id": t.end_user_id,
            "app_id": t.app_id,
            "external_id": t.end_user_external_id,
            "created_at": now,
        }
        for t in turns
    }
    _insert_ignoring_conflicts(connection, EndUserRow.__table__, list(users.values()))  # type: ignore[arg-type]
    new_conversations = [
        _columns(t.new_conversation, _CONVERSATION_COLUMNS)
        for t in turns
        if t.new_conversation is not None
    ]
    if new_conversations:
        for row in new_conversations:
            row["message_count"] = 0
            row["deleted_at"] = None
        connection.execute(insert(ConversationRow), new_conversations)
    connection.execute(
        insert(MessageRow),
        [_columns(t.message, _MESSAGE_COLUMNS) for t in turns],
    )
    connection.execute(insert(TraceRow), [_columns(t.trace, _TRACE_COLUMNS) for t in turns])
    counts: dict[str, int] = {}
    for t in turns:
        counts[t.conversation_id] = counts.get(t.conversation_id, 0) + 1
    for conversation_id, added in counts.items():
        connection.execute(
            update(ConversationRow)
            .where(ConversationRow.id == conversation_id)
            .values(
                message_count=ConversationRow.message_count + added,
                updated_at=now,
            )
        )


_STOP = object()


class TurnWriter:
    """Background writer thread with group commit; ``submit`` returns a future per turn."""

    def __init__(self, engine: Engine, max_batch: int = 256) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="kefu-turn-writer", daemon=True)
        self._closed = False
        self._thread.start()

    def submit(self, turn: TurnRecord) -> Future[None]:
        future: Future[None] = Future()
        if self._closed:
            future.set_exception(StorageError("the store is closed"))
            return future
        self._queue.put((turn, future))
        return future

    def close(self) -> None:
        """Write everything queued, then stop the thread."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            stop = item is _STOP
            batch = [] if stop else [item]
            while len(batch) < self._max_batch:
                try:
                    extra = self._queue.get_nowait()
                except queue.Empty:
                    break
                if extra is _STOP:
                    stop = True
                    continue
                batch.append(extra)
            if batch:
                self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[tuple[TurnRecord, Future[None]]]) -> None:
        try:
            with self._engine.begin() as connection:
                write_turns(connection, [turn for turn, _ in batch])
        except Exception:
            if len(batch) == 1:
                turn, future = batch[0]
                log.exception("could not store message %s", turn.message.id)
                future.set_exception(StorageError("could not store the message"))
                return
            # One bad turn must not fail its neighbours: write them one by one.
            for item in batch:
                self._commit([item])
            return
        for _, future in batch:
            future.set_result(None)
