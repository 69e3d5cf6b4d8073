"""A platform access token (WeCom ``access_token``, Feishu ``tenant_access_token``) cached
until shortly before it expires, fetched by one caller at a time, and dropped when the
platform says it is no longer valid."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

__all__ = ["AccessToken"]

# Refresh this long before the stated expiry (at most a tenth of the lifetime), so a call
# never leaves with a token that dies on the way.
EARLY_S = 300.0


class AccessToken:
    """``fetch()`` returns the new token and its lifetime in seconds."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[tuple[str, float]]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._token = ""
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.fetches = 0  # how many times a token was fetched (tests, logs)

    async def get(self) -> str:
        if self._token and self._clock() < self._expires_at:
            return self._token
        async with self._lock:  # one fetch for everyone waiting
            if self._token and self._clock() < self._expires_at:
                return self._token
            token, lifetime = await self._fetch()
            self.fetches += 1
            self._token = token
            self._expires_at = self._clock() + lifetime - min(EARLY_S, lifetime / 10)
            return token

    def invalidate(self, token: str) -> None:
        """The platform refused ``token`` (expired early, revoked): fetch anew next time."""
        if token == self._token:
            self._token, self._expires_at = "", 0.0
