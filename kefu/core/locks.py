"""Per-conversation turn locks: one turn of a conversation at a time.

Two messages of one conversation sent at once would otherwise both read the same dialog
state and history, and the later write would lose the earlier turn's slots. The lock
serialises them; a turn that waits too long is refused with :class:`Conflict` rather than
queued forever.

:class:`TurnLocks` is the interface; :class:`InMemoryTurnLocks` serialises turns within one
process. The Redis lock (:mod:`kefu.core.redis_locks`, with a lease, so a dead replica's lock
expires) plugs in for replicas; both pass
:class:`kefu.testing.conformance.turn_locks.TurnLocksConformance`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from kefu.core.errors import Conflict

__all__ = ["DEFAULT_TURN_LOCK_TIMEOUT_S", "InMemoryTurnLocks", "TurnLocks", "busy_conversation"]

DEFAULT_TURN_LOCK_TIMEOUT_S = 30.0


def busy_conversation() -> Conflict:
    """What a turn that waited too long for its conversation's lock is told (HTTP 409)."""
    return Conflict(
        "上一条消息仍在回答中，请稍后再试。"
        "Another message of this conversation is still being answered; try again in a moment."
    )


@runtime_checkable
class TurnLocks(Protocol):
    """Mutual exclusion per conversation id."""

    def lock(
        self, conversation_id: str, timeout_s: float | None = None
    ) -> AbstractAsyncContextManager[None]:
        """Hold the conversation's lock for the ``async with`` block.

        Waits at most ``timeout_s`` (the implementation's default when None) and then raises
        :class:`Conflict`; the lock is released however the block ends.
        """
        ...


@dataclass(slots=True)
class _Entry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0  # holders and waiters; the entry goes when the last one leaves


class InMemoryTurnLocks:
    """One :class:`asyncio.Lock` per conversation with a turn running or waiting."""

    def __init__(self, timeout_s: float = DEFAULT_TURN_LOCK_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self._entries: dict[str, _Entry] = {}

    @contextlib.asynccontextmanager
    async def lock(
        self, conversation_id: str, timeout_s: float | None = None
    ) -> AsyncIterator[None]:
        wait_s = self.timeout_s if timeout_s is None else timeout_s
        entry = self._entries.setdefault(conversation_id, _Entry())
        entry.users += 1
        try:
            try:
                async with asyncio.timeout(wait_s):
                    await entry.lock.acquire()
            except TimeoutError:
                raise busy_conversation() from None
            try:
                yield
            finally:
                entry.lock.release()
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._entries[conversation_id]

    def __len__(self) -> int:
        """Conversations with a turn holding or waiting for the lock."""
        return len(self._entries)
