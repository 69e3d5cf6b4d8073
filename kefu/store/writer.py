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
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import JSON, Connection, DateTime, Engine, Table, bindparam, update

from kefu.core.errors import StorageError
from kefu.core.ids import utcnow
from kefu.core.records import TurnRecord
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
# The dialog state a turn leaves behind (flows, slots), for continued conversations.
_SET_DIALOG_STATE = (
    update(ConversationRow)
    .where(ConversationRow.id == bindparam("conversation"))
    .values(dialog_state=bindparam("state"))
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
    states: dict[str, dict[str, Any]] = {}  # the last state per conversation wins
    for t in turns:
        if t.dialog_state is not None:
            states[t.conversation_id] = t.dialog_state
    return {
        "end_users": list(users.values()),
        "conversations": [
            _row(
                c,
                _CONVERSATIONS,
                message_count=counts[c.id],
                updated_at=now,
                deleted_at=None,
                dialog_state=states.get(c.id, c.dialog_state),
            )
            for c in opened
        ],
        "messages": [_row(t.message, _MESSAGES) for t in turns],
        "message_traces": [_row(t.trace, _TRACES) for t in turns],
        "bumps": [
            {"conversation": cid, "added": added, "now": now}
            for cid, added in counts.items()
            if cid not in opened_ids
        ],
        "states": [
            {"conversation": cid, "state": state}
            for cid, state in states.items()
            if cid not in opened_ids
        ],
    }


def write_turns(
    connection: Connection, turns: Sequence[TurnRecord], *, portable: bool = False
) -> None:
    """Write turns (end user, conversation, message, trace) inside the caller's transaction.

    ``portable`` forces the SQLAlchemy Core path on SQLite too (for the conformance test).
    """
    rows = turn_rows(turns)
    fast = connection.dialect.name == "sqlite" and not portable
    insert_many = _sqlite_insert if fast else _core_insert
    insert_many(connection, _END_USERS, rows["end_users"], True)
    for table in (_CONVERSATIONS, _MESSAGES, _TRACES):
        if rows[table.name]:
            insert_many(connection, table, rows[table.name], False)
    if rows["bumps"]:
        connection.execute(_BUMP_CONVERSATION, rows["bumps"])
    if rows["states"]:
        connection.execute(_SET_DIALOG_STATE, rows["states"])


def _core_insert(
    connection: Connection, table: Table, rows: list[dict[str, Any]], ignore_conflicts: bool
) -> None:
    """Portable path through SQLAlchemy Core (PostgreSQL; SQLite in the conformance test)."""
    if not ignore_conflicts:
        connection.execute(table.insert(), rows)
        return
    dialect_insert: Any
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif connection.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:  # pragma: no cover - other databases are not supported yet
        raise StorageError(f"unsupported database dialect: {connection.dialect.name}")
    connection.execute(dialect_insert(table).on_conflict_do_nothing(), rows)


def _json_text(value: Any) -> Any:
    return None if value is None else orjson.dumps(value).decode()


def _datetime_text(value: Any) -> Any:
    # SQLAlchemy's SQLite DATETIME storage format (timezone dropped, UTC by convention).
    return None if value is None else datetime.strftime(value, "%Y-%m-%d %H:%M:%S.%f")


@dataclass(frozen=True, slots=True)
class _SqliteInsert:
    """An INSERT for one table with the value conversions SQLAlchemy would apply."""

    sql: str
    values: Callable[[dict[str, Any]], tuple[Any, ...]]
    conversions: tuple[tuple[int, Callable[[Any], Any]], ...]

    @classmethod
    def build(cls, table: Table, ignore_conflicts: bool) -> _SqliteInsert:
        columns = list(table.columns)
        verb = "INSERT OR IGNORE" if ignore_conflicts else "INSERT"
        names = ", ".join(c.name for c in columns)
        marks = ", ".join("?" for _ in columns)
        conversions = tuple(
            (position, _json_text if isinstance(c.type, JSON) else _datetime_text)
            for position, c in enumerate(columns)
            if isinstance(c.type, JSON | DateTime)
        )
        return cls(
            f"{verb} INTO {table.name} ({names}) VALUES ({marks})",
            itemgetter(*(c.key for c in columns)),
            conversions,
        )

    def params(self, row: dict[str, Any]) -> tuple[Any, ...]:
        values = list(self.values(row))
        for position, convert in self.conversions:
            values[position] = convert(values[position])
        return tuple(values)


_SQLITE_INSERTS: dict[tuple[str, bool], _SqliteInsert] = {}


def _sqlite_insert(
    connection: Connection, table: Table, rows: list[dict[str, Any]], ignore_conflicts: bool
) -> None:
    key = (table.name, ignore_conflicts)
    statement = _SQLITE_INSERTS.get(key)
    if statement is None:
        statement = _SQLITE_INSERTS[key] = _SqliteInsert.build(table, ignore_conflicts)
    connection.exec_driver_sql(statement.sql, [statement.params(row) for row in rows])


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
