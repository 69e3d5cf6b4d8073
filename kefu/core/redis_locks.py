"""Per-conversation turn locks in Redis, so turns of one conversation never overlap however
many replicas answer it.

A lock is a key set only if absent (``SET NX PX``) to a random token, with a lease
(``lease_s``) that the holder renews every third of it while the turn runs; a replica that
dies holding one frees it when the lease runs out. Release and renewal are Lua scripts that
touch the key only while it still holds the holder's token. A waiter polls (5 ms, doubling to
50 ms): a turn lasts far longer than that, and polling needs no extra connection.

Turns of one conversation on this replica first queue on an in-process lock
(:class:`~kefu.core.locks.InMemoryTurnLocks`), so only one of them polls Redis; while Redis is
unreachable that in-process lock is all there is (turns on other replicas may then overlap, as
without Redis) and a warning is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any

from kefu.core.locks import DEFAULT_TURN_LOCK_TIMEOUT_S, InMemoryTurnLocks, busy_conversation
from kefu.core.redis_conn import RedisConnection, redis_errors

__all__ = ["DEFAULT_LEASE_S", "RedisTurnLocks"]

log = logging.getLogger(__name__)

DEFAULT_LEASE_S = 15.0
FIRST_POLL_S = 0.005
LAST_POLL_S = 0.05

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


class _LoopClient:
    """An event loop's async client and its scripts (an async client's scripts are awaited)."""

    def __init__(self, redis: Any) -> None:
        self.redis = redis
        self.release = redis.register_script(RELEASE)
        self.renew = redis.register_script(RENEW)


class RedisTurnLocks:
    """:class:`~kefu.core.locks.TurnLocks` across replicas: a leased Redis key per
    conversation with a turn running."""

    def __init__(
        self,
        connection: RedisConnection,
        timeout_s: float = DEFAULT_TURN_LOCK_TIMEOUT_S,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> None:
        self.timeout_s = timeout_s
        self.lease_s = lease_s
        self._connection = connection
        self._local = InMemoryTurnLocks(timeout_s)
        self._errors = redis_errors()
        self._clients: dict[asyncio.AbstractEventLoop, _LoopClient] = {}

    def _client(self) -> _LoopClient:
        """This event loop's async client (its pool serves every turn on the loop)."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            for old in [old for old in self._clients if old.is_closed()]:
                del self._clients[old]
            client = self._clients[loop] = _LoopClient(self._connection.async_client())
        return client

    async def aclose(self) -> None:
        """Close this event loop's client."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.redis.aclose()

    @contextlib.asynccontextmanager
    async def lock(
        self, conversation_id: str, timeout_s: float | None = None
    ) -> AsyncIterator[None]:
        wait_s = self.timeout_s if timeout_s is None else timeout_s
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        async with self._local.lock(conversation_id, wait_s):
            key = self._connection.key("turn", conversation_id)
            token = secrets.token_hex(16)
            client = self._client()
            held = await self._acquire(client, key, token, deadline)
            renewing = asyncio.ensure_future(self._keep(client, key, token)) if held else None
            try:
                yield
            finally:
                if renewing is not None:
                    renewing.cancel()
                    with contextlib.suppress(BaseException):
                        await renewing
                if held:
                    # Shielded: a cancelled turn still frees the lock now, not at lease end.
                    await asyncio.shield(self._free(client, key, token))

    async def _acquire(self, client: _LoopClient, key: str, token: str, deadline: float) -> bool:
        """True once the lock is ours; False when Redis is unreachable (the in-process lock
        alone serialises); Conflict past the deadline."""
        loop = asyncio.get_running_loop()
        poll = FIRST_POLL_S
        lease_ms = int(self.lease_s * 1000)
        while True:
            try:
                if self._connection.down:
                    return False
                if await client.redis.set(key, token, nx=True, px=lease_ms):
                    return True
            except asyncio.CancelledError:
                # The SET may have landed before the cancel: give back what might be ours.
                await asyncio.shield(self._free(client, key, token))
                raise
            except self._errors as exc:
                self._connection.failed("turn locks serialise within this replica only", exc)
                return False
            left = deadline - loop.time()
            if left <= 0:
                raise busy_conversation()
            await asyncio.sleep(min(poll, left))
            poll = min(poll * 2, LAST_POLL_S)

    async def _keep(self, client: _LoopClient, key: str, token: str) -> None:
        """Renew the lease every third of it while the turn runs."""
        lease_ms = int(self.lease_s * 1000)
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                renewed = await client.renew(keys=[key], args=[token, lease_ms])
            except self._errors as exc:
                self._connection.failed("a turn lock's lease could not be renewed", exc)
                continue
            if not renewed:
                log.warning("the turn lock of %s expired while its turn ran", key)
                return

    async def _free(self, client: _LoopClient, key: str, token: str) -> None:
        try:
            await client.release(keys=[key], args=[token])
        except self._errors as exc:
            self._connection.failed("a turn lock is freed when its lease ends", exc)
