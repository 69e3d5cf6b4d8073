"""Live events for customers: an agent's reply or a state change, pushed to whoever is
listening on the conversation (``GET /v1/conversations/{id}/events``).

:class:`EventHub` is the interface; :class:`InMemoryEventHub` serves one process. With
several replicas a customer listening on one must hear an agent replying through another: a
Redis pub/sub hub plugs in (:mod:`kefu.handoff.redis_events`) and passes
:class:`kefu.testing.conformance.events.EventHubConformance`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, runtime_checkable

__all__ = ["QUEUE_SIZE", "EventHub", "InMemoryEventHub"]

QUEUE_SIZE = 100


@runtime_checkable
class EventHub(Protocol):
    """Live events per conversation, delivered to every listener on it."""

    def subscribe(
        self, conversation_id: str
    ) -> AbstractAsyncContextManager[asyncio.Queue[dict[str, Any]]]:
        """Listen while the ``async with`` block runs: events published once it is entered
        arrive, in order, on the queue (bounded; a slow listener loses the oldest events
        rather than holding up the publisher). Entering waits for a shared hub to confirm
        the subscription."""
        ...

    def publish(self, conversation_id: str, event: dict[str, Any]) -> int:
        """Deliver to every listener (call from the event loop); returns how many were
        reached here or, for a shared hub, a positive number when anyone listens."""
        ...


class InMemoryEventHub:
    """Conversation id → the queues of its listeners; slow listeners lose the oldest events."""

    def __init__(self) -> None:
        self._listeners: dict[str, set[asyncio.Queue[dict[str, Any]]]] = {}

    @contextlib.asynccontextmanager
    async def subscribe(self, conversation_id: str) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self._listeners.setdefault(conversation_id, set()).add(queue)
        try:
            yield queue
        finally:
            listeners = self._listeners.get(conversation_id)
            if listeners is not None:
                listeners.discard(queue)
                if not listeners:
                    del self._listeners[conversation_id]

    def publish(self, conversation_id: str, event: dict[str, Any]) -> int:
        """Deliver to every listener (call from the event loop); returns how many."""
        listeners = self._listeners.get(conversation_id, set())
        for queue in listeners:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)
        return len(listeners)
