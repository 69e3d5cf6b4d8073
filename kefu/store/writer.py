"""Group commit for turns.

Every turn must be durable before its answer is acknowledged, but a transaction per turn
caps throughput at the database's commit rate. One writer thread takes every turn waiting
at that moment and commits them in one transaction; each caller is woken after *its*
commit. (SQLite allows one writer anyway, so this loses no parallelism.)

On SQLite the rows go straight to the driver's ``executemany`` with statements built from
the same table definitions: SQLAlchemy's per-row bind processing cost more than the
insert itself on the hot path. Other databases use SQLAlchemy Core.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import JSON, Column, Connection, DateTime, Engine, Table, bindparam, update

from kefu.core.errors import StorageError
from kefu.core.records import TurnRecord
from kefu.store.db import utcnow
from kefu.store.models import ConversationRow, EndUserRow, MessageRow, TraceRow

__all__ = ["TurnWriter", "write_turns"]

log = logging.getLogger(__name__)

_END_USERS: Table = EndUserRow.__table__  # type: ignore[assignment]
_CONVERSATIONS: Table = ConversationRow.__table__  # type: ignore[assignment]
_MESSAGES: Table = MessageRow.__table__  # type: ignore[assignment]
_TRACES: Table = TraceRow.__table__  # type: ignore[assignment]

# One statement for all continued conversations of a batch (executemany).
_BUMP_CONVERSATION = (
    update(ConversationRow)
    .where(ConversationRow.id == bindparam("conversation"))
    .values(
        message_count=ConversationRow.message_count + bindparam("added"),
        updated_at=bindparam("now"),
    )
)


_COLUMN_KEYS = {
    t.name: tuple(c.key for c in t.columns) for t in (_CONVERSATIONS, _MESSAGES, _TRACES)
}


def _row(record: Any, table: Table, **overrides: Any) -> dict[str, Any]:
    """A record's fields that are columns of ``table`` (``asdict`` would deep-copy JSON)."""
    row = {key: getattr(record, key, None) for key in _COLUMN_KEYS[table.name]}
    row.update(overrides)
    return row


def turn_rows(turns: Sequence[TurnRecord]) -> dict[str, list[dict[str, Any]]]:
    """The rows a batch of turns adds, by table, plus the conversation bumps."""
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
    counts: dict[str, int] = {}
    for t in turns:
        counts[t.conversation_id] = counts.get(t.conversation_id, 0) + 1
    opened = [t.new_conversation for t in turns if t.new_conversation is not None]
    opened_ids = {c.id for c in opened}
    return {
        "end_users": list(users.values()),
        "conversations": [
            _row(c, _CONVERSATIONS, message_count=counts[c.id], updated_at=now, deleted_at=None)
            for c in opened
        ],
        "messages": [_row(t.message, _MESSAGES) for t in turns],
        "message_traces": [_row(t.trace, _TRACES) for t in turns],
        "bumps": [
            {"conversation": cid, "added": added, "now": now}
            for cid, added in counts.items()
            if cid not in opened_ids
        ],
    }


def write_turns(connection: Connection, turns: Sequence[TurnRecord]) -> None:
    """Write turns (end user, conversation, message, trace) inside the caller's transaction."""
    rows = turn_rows(turns)
    insert_many = _sqlite_insert if connection.dialect.name == "sqlite" else _core_insert
    insert_many(connection, _END_USERS, rows["end_users"], True)
    for table in (_CONVERSATIONS, _MESSAGES, _TRACES):
        if rows[table.name]:
            insert_many(connection, table, rows[table.name], False)
    if rows["bumps"]:
        connection.execute(_BUMP_CONVERSATION, rows["bumps"])


def _core_insert(
    connection: Connection, table: Table, rows: list[dict[str, Any]], ignore_conflicts: bool
) -> None:
    if not ignore_conflicts:
        connection.execute(table.insert(), rows)
        return
    dialect = connection.dialect.name
    if dialect != "postgresql":  # pragma: no cover - other databases are not supported yet
        raise StorageError(f"unsupported database dialect: {dialect}")
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    connection.execute(pg_insert(table).on_conflict_do_nothing(), rows)


def _sqlite_value(column: Column[Any]) -> Callable[[Any], Any]:
    """How SQLAlchemy would store a value of this column in SQLite."""
    if isinstance(column.type, JSON):
        return lambda value: None if value is None else orjson.dumps(value).decode()
    if isinstance(column.type, DateTime):
        # SQLAlchemy's SQLite DATETIME storage format (timezone dropped, UTC by convention).
        return lambda value: (
            None if value is None else datetime.strftime(value, "%Y-%m-%d %H:%M:%S.%f")
        )
    return lambda value: value


_SQLITE_STATEMENTS: dict[tuple[str, bool], tuple[str, list[tuple[str, Callable[[Any], Any]]]]] = {}


def _sqlite_insert(
    connection: Connection, table: Table, rows: list[dict[str, Any]], ignore_conflicts: bool
) -> None:
    key = (table.name, ignore_conflicts)
    if key not in _SQLITE_STATEMENTS:
        columns = list(table.columns)
        verb = "INSERT OR IGNORE" if ignore_conflicts else "INSERT"
        names = ", ".join(c.name for c in columns)
        marks = ", ".join("?" for _ in columns)
        _SQLITE_STATEMENTS[key] = (
            f"{verb} INTO {table.name} ({names}) VALUES ({marks})",
            [(c.key, _sqlite_value(c)) for c in columns],
        )
    sql, converters = _SQLITE_STATEMENTS[key]
    params = [tuple(convert(row[name]) for name, convert in converters) for row in rows]
    connection.exec_driver_sql(sql, params)


Waiter = tuple[asyncio.AbstractEventLoop, "asyncio.Future[None]"] | Future[None]
_STOP = object()


class TurnWriter:
    """Background writer thread with group commit.

    ``submit`` is for threads (returns a ``concurrent.futures.Future``); ``save`` is for
    coroutines and wakes each event loop once per batch rather than once per turn.
    """

    def __init__(self, engine: Engine, max_batch: int = 256, linger_s: float = 0.0) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._linger_s = linger_s
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="kefu-turn-writer", daemon=True)
        self._closed = False
        self._thread.start()

    def submit(self, turn: TurnRecord) -> Future[None]:
        future: Future[None] = Future()
        if self._closed:
            future.set_exception(StorageError("the store is closed"))
        else:
            self._queue.put((turn, future))
        return future

    async def save(self, turn: TurnRecord) -> None:
        if self._closed:
            raise StorageError("the store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._queue.put((turn, (loop, future)))
        await future

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
            if not stop and self._linger_s:
                # Like PostgreSQL's commit_delay: a commit costs about as much for one turn
                # as for fifty, so wait a moment for the turns right behind this one.
                time.sleep(self._linger_s)
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
                self._notify(self._commit(batch))
            if stop:
                return

    def _commit(
        self, batch: list[tuple[TurnRecord, Waiter]]
    ) -> list[tuple[Waiter, Exception | None]]:
        try:
            with self._engine.begin() as connection:
                write_turns(connection, [turn for turn, _ in batch])
        except Exception:
            if len(batch) == 1:
                turn, waiter = batch[0]
                log.exception("could not store message %s", turn.message.id)
                return [(waiter, StorageError("could not store the message"))]
            # One bad turn must not fail its neighbours: write them one by one.
            return [outcome for item in batch for outcome in self._commit([item])]
        return [(waiter, None) for _, waiter in batch]

    @staticmethod
    def _notify(outcomes: list[tuple[Waiter, Exception | None]]) -> None:
        by_loop: dict[
            asyncio.AbstractEventLoop, list[tuple[asyncio.Future[None], Exception | None]]
        ] = {}
        for waiter, error in outcomes:
            if isinstance(waiter, Future):
                if error is None:
                    waiter.set_result(None)
                else:
                    waiter.set_exception(error)
            else:
                loop, future = waiter
                by_loop.setdefault(loop, []).append((future, error))
        for loop, futures in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve, futures)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                pass


def _resolve(futures: list[tuple[asyncio.Future[None], Exception | None]]) -> None:
    for future, error in futures:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
