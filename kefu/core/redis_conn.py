"""The Redis connection behind every shared-state implementation (``KEFU_REDIS_URL``).

One :class:`RedisConnection` per process: a synchronous client for the hot path's short calls
(a rate-limit take, a cache read: ~0.1 ms on a near Redis), with short socket timeouts so a
hung Redis costs a request at most ``timeout_s``; async clients for what waits (lock polling)
and :class:`RedisSubscriber` for pub/sub. When Redis cannot be reached, :meth:`call` answers
its fallback at once for ``RETRY_AFTER_S`` (no request waits on a dead server twice in a row)
and logs a warning at most every ``WARN_EVERY_S``: each implementation says what its fallback
is (docs/operations.md).

redis-py is the ``redis`` extra, imported here lazily; a missing one says what to install.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from kefu.core.errors import ConfigError

if TYPE_CHECKING:
    import redis
    import redis.asyncio

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "RedisConnection",
    "RedisSubscriber",
    "redis_errors",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_TIMEOUT_S = 0.25
RETRY_AFTER_S = 1.0
WARN_EVERY_S = 10.0


def _redis() -> Any:
    try:
        import redis
    except ImportError:
        raise ConfigError(
            "Redis needs redis-py: pip install 'kefu[redis]'", key="KEFU_REDIS_URL"
        ) from None
    return redis


def redis_errors() -> tuple[type[BaseException], ...]:
    """The errors that mean Redis is unreachable (not a bug in a command)."""
    redis = _redis()
    return (redis.ConnectionError, redis.TimeoutError, OSError)


class RedisConnection:
    """Clients on one Redis URL, key names under one prefix, and the outage guard."""

    def __init__(
        self, url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S, prefix: str = "kefu:"
    ) -> None:
        module = _redis()
        self.url = url
        self.timeout_s = timeout_s
        self.prefix = prefix
        try:
            self.sync: redis.Redis = module.Redis.from_url(
                url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
            )
        except ValueError as exc:
            raise ConfigError(str(exc), key="KEFU_REDIS_URL") from None
        self._down_until = 0.0
        self._warned_at = -WARN_EVERY_S
        self._errors = redis_errors()

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def async_client(self, *, timeout_s: float | None = -1.0) -> redis.asyncio.Redis:
        """A new async client on the running event loop (the caller closes it);
        ``timeout_s=None`` for connections that wait for pushes (pub/sub)."""
        module = _redis()
        socket_timeout = self.timeout_s if timeout_s == -1.0 else timeout_s
        client: redis.asyncio.Redis = module.asyncio.Redis.from_url(
            self.url, socket_timeout=socket_timeout, socket_connect_timeout=self.timeout_s
        )
        return client

    @property
    def down(self) -> bool:
        """Whether Redis failed a moment ago (calls answer their fallback until it passes)."""
        return time.monotonic() < self._down_until

    def call(self, what: str, work: Callable[[redis.Redis], T], fallback: T) -> T:
        """``work(client)``, or ``fallback`` while Redis is unreachable."""
        if self.down:
            return fallback
        try:
            return work(self.sync)
        except self._errors as exc:
            self.failed(what, exc)
            return fallback

    async def acall(self, what: str, work: Awaitable[T], fallback: T) -> T:
        """The async twin of :meth:`call` for an awaitable already made."""
        if self.down:
            if asyncio.iscoroutine(work):
                work.close()
            return fallback
        try:
            return await work
        except self._errors as exc:
            self.failed(what, exc)
            return fallback

    def failed(self, what: str, exc: BaseException) -> None:
        """Note an outage: fallbacks for ``RETRY_AFTER_S``, a warning now and then."""
        now = time.monotonic()
        self._down_until = now + RETRY_AFTER_S
        if now - self._warned_at >= WARN_EVERY_S:
            self._warned_at = now
            log.warning("Redis unreachable (%s): %s; %s", type(exc).__name__, exc, what)

    def ping(self) -> bool:
        try:
            return bool(self.sync.ping())
        except self._errors:
            return False

    def close(self) -> None:
        self.sync.close()


class RedisSubscriber:
    """One pub/sub connection per process and event loop: channels → handlers.

    ``await subscribe(channel, handler)`` returns once Redis confirmed the subscription, so
    a message published after it is delivered. The connection is re-made after an outage
    (every channel subscribed again, then ``on_resubscribed`` runs, so owners can catch up
    on what they missed). Hand-written around redis-py's ``PubSub`` because that object does
    not confirm subscriptions to its caller nor re-subscribe on its own.
    """

    # Kept subscribed so the reader always has something to read (redis-py's reader returns
    # at once on a connection without subscriptions).
    IDLE_CHANNEL = "idle"

    def __init__(
        self,
        connection: RedisConnection,
        on_resubscribed: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.connection = connection
        self._on_resubscribed = on_resubscribed
        self._handlers: dict[str, Callable[[bytes], None]] = {}
        self._confirmations: dict[str, list[asyncio.Future[None]]] = {}
        self._client: redis.asyncio.Redis | None = None
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[None] | None = None

    async def subscribe(self, channel: str, handler: Callable[[bytes], None]) -> None:
        self._handlers[channel] = handler
        await self._ensure_reader()
        await self._send_subscribe(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._handlers.pop(channel, None)
        if self._pubsub is not None:
            with contextlib.suppress(*redis_errors()):
                await self._pubsub.unsubscribe(self.connection.key(channel))

    async def _send_subscribe(self, channel: str) -> None:
        if self._pubsub is None:  # reconnecting: the new connection subscribes it
            return
        confirmed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._confirmations.setdefault(self.connection.key(channel), []).append(confirmed)
        await self._pubsub.subscribe(self.connection.key(channel))
        await asyncio.wait_for(confirmed, 5.0)

    async def _ensure_reader(self) -> None:
        if self._reader is not None and not self._reader.done():
            assert self._ready is not None
            await asyncio.shield(self._ready)
            return
        loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        self._reader = loop.create_task(self._read(), name="kefu-redis-subscriber")
        await asyncio.shield(self._ready)

    async def _connect(self) -> None:
        self._client = self.connection.async_client(timeout_s=None)
        self._pubsub = self._client.pubsub()
        await self._pubsub.subscribe(self.connection.key(self.IDLE_CHANNEL))

    async def _read(self) -> None:
        first = True
        while True:
            try:
                await self._connect()
                if not first:
                    for channel in list(self._handlers):
                        await self._pubsub.subscribe(self.connection.key(channel))
                reading = asyncio.ensure_future(self._dispatch())
                if first:
                    assert self._ready is not None
                    self._ready.set_result(None)
                    first = False
                elif self._on_resubscribed is not None:
                    await self._on_resubscribed()
                await reading
            except asyncio.CancelledError:
                raise
            except redis_errors() as exc:
                self.connection.failed("pub/sub: reconnecting in 1 s", exc)
                if first and self._ready is not None and not self._ready.done():
                    self._ready.set_exception(exc)
                    return
                await self._drop()
                await asyncio.sleep(RETRY_AFTER_S)

    async def _dispatch(self) -> None:
        while True:
            message = await self._pubsub.get_message(timeout=None)
            if message is None:
                continue
            channel = message["channel"].decode()
            if message["type"] == "subscribe":
                for confirmed in self._confirmations.pop(channel, []):
                    if not confirmed.done():
                        confirmed.set_result(None)
            elif message["type"] == "message":
                handler = self._handlers.get(channel[len(self.connection.prefix) :])
                if handler is not None:
                    try:
                        handler(message["data"])
                    except Exception:  # one bad message must not end the listening
                        log.exception("a Redis message on %s could not be handled", channel)

    async def _drop(self) -> None:
        pubsub, client = self._pubsub, self._client
        self._pubsub = self._client = None
        with contextlib.suppress(Exception):
            if pubsub is not None:
                await pubsub.aclose()
        with contextlib.suppress(Exception):
            if client is not None:
                await client.aclose()

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader
            self._reader = None
        await self._drop()
