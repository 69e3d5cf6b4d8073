"""POST JSON to a model server with retries, mapping failures onto the provider errors."""

from __future__ import annotations

import time
from typing import Any

import httpx

from kefu.core.errors import (
    ProviderBadResponse,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
)

__all__ = ["post_json"]

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


def post_json(
    client: httpx.Client, url: str, payload: dict[str, Any], *, retries: int, what: str
) -> Any:
    """The decoded JSON reply; timeouts, 429 and 5xx are retried with a short backoff."""
    for attempt in range(retries + 1):
        last = attempt == retries
        try:
            response = client.post(url, json=payload)
        except httpx.TimeoutException:
            if last:
                raise ProviderTimeout(f"{what}: {url} timed out") from None
        except httpx.HTTPError as exc:
            if last:
                raise ProviderError(f"{what}: cannot reach {url} ({exc})") from None
        else:
            if response.status_code < 400:
                try:
                    return response.json()
                except ValueError:
                    raise ProviderBadResponse(f"{what}: {url} did not return JSON") from None
            if response.status_code not in _RETRY_STATUS or last:
                detail = response.text[:200].strip()
                if response.status_code == 429:
                    raise ProviderRateLimited(f"{what}: {url} rate-limited the request")
                raise ProviderBadResponse(
                    f"{what}: {url} answered {response.status_code}: {detail}"
                )
        time.sleep(min(2.0, 0.2 * 2**attempt))
    raise AssertionError("unreachable")  # pragma: no cover
