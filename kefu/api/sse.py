"""Server-sent events: ``data: {json}`` frames and ``event: ping`` keep-alives."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

__all__ = ["COMMENT_PING", "PING", "event_stream_response", "sse_data", "with_pings"]

PING = b"event: ping\n\n"
COMMENT_PING = b": ping\n\n"  # for clients (the OpenAI SDK) that choke on unknown events
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse_data(payload: dict[str, Any] | str) -> bytes:
    body = payload.encode() if isinstance(payload, str) else orjson.dumps(payload)
    return b"data: " + body + b"\n\n"


async def with_pings(
    source: AsyncIterator[bytes],
    interval: float,
    ping: bytes = PING,
    until: Callable[[], bool] | None = None,
) -> AsyncIterator[bytes]:
    """Forward ``source``, sending a ping whenever it is silent for ``interval`` seconds;
    an endless stream ends at a silent moment once ``until()`` is true (a draining server).

    The next item is awaited in its own task so a timeout never cancels the source;
    when the client goes away, the source is cancelled and closed properly.
    """
    pending: asyncio.Future[bytes] = asyncio.ensure_future(anext(source))
    try:
        while True:
            done, _ = await asyncio.wait({pending}, timeout=interval)
            if not done:
                if until is not None and until():
                    return
                yield ping
                continue
            try:
                item = pending.result()
            except StopAsyncIteration:
                return
            yield item
            pending = asyncio.ensure_future(anext(source))
    finally:
        if not pending.done():
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(RuntimeError):
                await aclose()


class EventStreamResponse(StreamingResponse):
    """A streaming response that runs ``on_close`` however it ends: also when the client
    left before the first byte, when the source never started (and so never cleaned up)."""

    def __init__(
        self, content: AsyncIterator[bytes], on_close: Callable[[], Awaitable[None]] | None
    ) -> None:
        super().__init__(content, media_type="text/event-stream", headers=SSE_HEADERS)
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if self._on_close is not None:
                await asyncio.shield(self._on_close())


def event_stream_response(
    source: AsyncIterator[bytes],
    ping_seconds: float,
    ping: bytes = PING,
    on_close: Callable[[], Awaitable[None]] | None = None,
    until: Callable[[], bool] | None = None,
) -> StreamingResponse:
    return EventStreamResponse(with_pings(source, ping_seconds, ping, until), on_close)
