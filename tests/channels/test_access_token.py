"""The platform token cache: reused until shortly before it expires, one fetch at a time."""

from __future__ import annotations

import asyncio

from kefu.channels.access_token import AccessToken


async def test_a_token_is_reused_then_refreshed_before_it_expires() -> None:
    now = [1000.0]
    fetched: list[str] = []

    async def fetch() -> tuple[str, float]:
        await asyncio.sleep(0.01)
        fetched.append(f"t{len(fetched)}")
        return fetched[-1], 7200.0

    tokens = AccessToken(fetch, clock=lambda: now[0])
    assert await asyncio.gather(*(tokens.get() for _ in range(5))) == ["t0"] * 5  # one fetch
    now[0] += 7200 - 301  # still inside the lifetime less its 300 s margin
    assert await tokens.get() == "t0"
    now[0] += 2
    assert await tokens.get() == "t1"  # refreshed before WeCom would refuse it
    tokens.invalidate("stale-token")  # another token: nothing happens
    assert await tokens.get() == "t1"
    tokens.invalidate("t1")  # the platform refused it
    assert await tokens.get() == "t2"
    assert tokens.fetches == 3
