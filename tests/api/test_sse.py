"""SSE framing and keep-alive pings while the source is silent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from kefu.api.sse import PING, sse_data, with_pings


async def slow_source() -> AsyncIterator[bytes]:
    yield sse_data({"event": "message", "answer": "你好"})
    await asyncio.sleep(0.35)
    yield sse_data({"event": "message_end"})


async def test_pings_fill_silence_and_never_cut_the_source() -> None:
    frames = [frame async for frame in with_pings(slow_source(), interval=0.1)]
    assert frames[0] == 'data: {"event":"message","answer":"你好"}\n\n'.encode()
    assert frames[-1] == b'data: {"event":"message_end"}\n\n'
    pings = frames[1:-1]
    assert pings and set(pings) == {PING}
    assert 1 <= len(pings) <= 4  # ~3; fewer if the machine stalls the loop


async def test_closing_the_stream_closes_the_source() -> None:
    closed = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"data: x\n\n"
                await asyncio.sleep(0.01)
        finally:
            closed.set()

    stream = with_pings(endless(), interval=1.0)
    assert await anext(stream) == b"data: x\n\n"
    await stream.aclose()
    assert closed.is_set()
