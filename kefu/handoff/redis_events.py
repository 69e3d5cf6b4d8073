"""Live customer events over Redis pub/sub: an agent replying through one replica reaches the
customer listening on another.

Each process keeps one pub/sub connection (:class:`~kefu.core.redis_conn.RedisSubscriber`)
subscribed to the channels of the conversations someone listens to on it; a publish goes
through Redis even when the listener is local, so every listener sees one order. ``publish``
is one synchronous ``PUBLISH`` (its reply counts the replicas listening). Events are JSON.

While Redis is unreachable events are delivered to this process's own listeners only (what
one process does without Redis); a listener on another replica misses them, and sees the
conversation's state again when it reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson

from kefu.core.redis_conn import RedisConnection, RedisSubscriber
from kefu.handoff.events import QUEUE_SIZE

__all__ = ["RedisEventHub"]

Queue = asyncio.Queue[dict[str, Any]]


class RedisEventHub:
    """:class:`~kefu.handoff.events.EventHub` on Redis pub/sub, one channel per conversation."""

    def __init__(self, connection: RedisConnection) -> None:
        self._connection = connection
        self._subscribers: dict[asyncio.AbstractEventLoop, RedisSubscriber] = {}
        self._listeners: dict[str, set[Queue]] = {}
        self._subscribed: set[str] = set()  # conversations whose channel Redis confirmed

    @staticmethod
    def _channel(conversation_id: str) -> str:
        return f"events:{conversation_id}"

    def _subscriber(self) -> RedisSubscriber:
        loop = asyncio.get_running_loop()
        subscriber = self._subscribers.get(loop)
        if subscriber is None:
            for old in [old for old in self._subscribers if old.is_closed()]:
                del self._subscribers[old]
            subscriber = self._subscribers[loop] = RedisSubscriber(self._connection)
        return subscriber

    @contextlib.asynccontextmanager
    async def subscribe(self, conversation_id: str) -> AsyncIterator[Queue]:
        queue: Queue = asyncio.Queue(QUEUE_SIZE)
        listeners = self._listeners.setdefault(conversation_id, set())
        listeners.add(queue)
        subscriber = self._subscriber()
        try:
            if conversation_id not in self._subscribed:  # the first listener, or after a failure
                channel = self._channel(conversation_id)
                await self._connection.acall(
                    "live events reach this replica's listeners only",
                    subscriber.subscribe(
                        channel, lambda data: self._deliver(conversation_id, data)
                    ),
                    None,
                )
            yield queue
        finally:
            listeners.discard(queue)
            if not listeners and self._listeners.get(conversation_id) is listeners:
                del self._listeners[conversation_id]
                self._subscribed.discard(conversation_id)
                await asyncio.shield(subscriber.unsubscribe(self._channel(conversation_id)))

    def _deliver(self, conversation_id: str, data: bytes) -> None:
        event = orjson.loads(data)
        for queue in self._listeners.get(conversation_id, ()):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)

    def publish(self, conversation_id: str, event: dict[str, Any]) -> int:
        data = orjson.dumps(event)
        channel = self._connection.key(self._channel(conversation_id))
        reached = self._connection.call(
            "live events reach this replica's listeners only",
            lambda client: client.publish(channel, data),
            None,
        )
        if reached is None:  # Redis unreachable: this process's own listeners
            self._deliver(conversation_id, data)
            return len(self._listeners.get(conversation_id, ()))
        return int(reached)

    async def aclose(self) -> None:
        """Close this event loop's pub/sub connection."""
        subscriber = self._subscribers.pop(asyncio.get_running_loop(), None)
        if subscriber is not None:
            await subscriber.aclose()
