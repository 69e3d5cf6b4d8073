"""POST JSON to a model server with retries, mapping failures onto the provider errors.

:func:`post_json` blocks (indexing, in the CLI or a worker thread); :func:`apost_json` is
its awaitable twin for query time, on an :class:`httpx.AsyncClient` from
:class:`LoopClients`. Both retry timeouts, 429 and 5xx a bounded number of times with a
short backoff; the caller bounds the total time (a turn's deadline).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from kefu.core.errors import (
    ProviderBadResponse,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
)

__all__ = ["LoopClients", "apost_json", "post_json"]

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_RETRY = object()  # a reply worth another attempt
_MAX_LOOPS = 8


def post_json(
    client: httpx.Client, url: str, payload: dict[str, Any], *, retries: int, what: str
) -> Any:
    """The decoded JSON reply; timeouts, 429 and 5xx are retried with a short backoff."""
    for attempt in range(retries + 1):
        last = attempt == retries
        try:
            response = client.post(url, json=payload)
        except httpx.HTTPError as exc:
            _raise_if_last(exc, last, url, what)
        else:
            reply = _decode(response, last, url, what)
            if reply is not _RETRY:
                return reply
        time.sleep(_backoff(attempt))
    raise AssertionError("unreachable")  # pragma: no cover


async def apost_json(
    client: httpx.AsyncClient, url: str, payload: dict[str, Any], *, retries: int, what: str
) -> Any:
    """:func:`post_json` without blocking the event loop (the backoff is awaited too)."""
    for attempt in range(retries + 1):
        last = attempt == retries
        try:
            response = await client.post(url, json=payload)
        except httpx.HTTPError as exc:
            _raise_if_last(exc, last, url, what)
        else:
            reply = _decode(response, last, url, what)
            if reply is not _RETRY:
                return reply
        await asyncio.sleep(_backoff(attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def _backoff(attempt: int) -> float:
    return min(2.0, 0.2 * 2**attempt)


def _raise_if_last(exc: httpx.HTTPError, last: bool, url: str, what: str) -> None:
    if not last:
        return
    if isinstance(exc, httpx.TimeoutException):
        raise ProviderTimeout(f"{what}: {url} timed out") from None
    raise ProviderError(f"{what}: cannot reach {url} ({exc})") from None


def _decode(response: httpx.Response, last: bool, url: str, what: str) -> Any:
    """The reply's JSON, ``_RETRY``, or the provider error it means."""
    if response.status_code < 400:
        try:
            return response.json()
        except ValueError:
            raise ProviderBadResponse(f"{what}: {url} did not return JSON") from None
    if response.status_code in _RETRY_STATUS and not last:
        return _RETRY
    if response.status_code == 429:
        raise ProviderRateLimited(f"{what}: {url} rate-limited the request")
    detail = response.text[:200].strip()
    raise ProviderBadResponse(f"{what}: {url} answered {response.status_code}: {detail}")


class LoopClients:
    """One :class:`httpx.AsyncClient` per running event loop: a connection pool belongs to
    the loop that opened it (``kefu chat`` runs each turn in a fresh loop; the server has
    one)."""

    def __init__(
        self,
        *,
        timeout_s: float,
        headers: dict[str, str],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._timeout_s = timeout_s
        self._headers = headers
        self._transport = transport
        self._clients: dict[int, httpx.AsyncClient] = {}

    def get(self) -> httpx.AsyncClient:
        loop = id(asyncio.get_running_loop())
        client = self._clients.get(loop)
        if client is None:
            if len(self._clients) >= _MAX_LOOPS:  # loops that have ended; their pools are dead
                self._clients.clear()
            client = self._clients[loop] = httpx.AsyncClient(
                timeout=self._timeout_s, headers=self._headers, transport=self._transport
            )
        return client

    async def aclose(self) -> None:
        """Close the running loop's client (call from the loop that used it)."""
        client = self._clients.pop(id(asyncio.get_running_loop()), None)
        if client is not None:
            await client.aclose()
