"""Outgoing webhooks: HMAC-SHA256-signed JSON POSTs, delivered in the background with retries.

The signature covers the raw body, and the body carries its own ``created_at`` (the same
value as the ``X-Kefu-Timestamp`` header), so a receiver that checks the signature and the
age of ``created_at`` is safe from both forgery and replay. See docs/handoff.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WebhookDispatcher",
    "WebhookTarget",
    "sign",
    "verify",
]

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Kefu-Signature"
TIMESTAMP_HEADER = "X-Kefu-Timestamp"
EVENT_HEADER = "X-Kefu-Event"
DELIVERY_HEADER = "X-Kefu-Delivery"
RETRY_STATUSES = frozenset({408, 425, 429})


def sign(secret: bytes, body: bytes) -> str:
    """The ``X-Kefu-Signature`` value: ``sha256=`` + hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(
    secret: bytes, body: bytes, signature: str, *, max_age_s: float = 300, now: float | None = None
) -> bool:
    """What a receiver does: a constant-time signature check, then the body's age."""
    if not hmac.compare_digest(sign(secret, body), signature):
        return False
    try:
        created_at = float(orjson.loads(body)["created_at"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return False
    return abs((time.time() if now is None else now) - created_at) <= max_age_s


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    url: str
    secret: bytes
    max_attempts: int = 5
    timeout_s: float = 5.0


class WebhookDispatcher:
    """Sends each event in its own task: the customer's turn never waits for a desk.

    A delivery is retried on network errors, timeouts, 5xx, 408, 425 and 429 with
    exponential backoff and jitter; other 4xx answers are final. Every attempt carries the
    same ``X-Kefu-Delivery`` id, so receivers can drop duplicates.
    """

    def __init__(
        self,
        *,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._sleep = sleep
        self._tasks: set[asyncio.Task[bool]] = set()

    def send(self, target: WebhookTarget, event: str, app: str, data: dict[str, Any]) -> str:
        """Schedule a delivery from the running event loop; returns the delivery id."""
        delivery = str(uuid.uuid4())
        created_at = int(time.time())
        body = orjson.dumps(
            {"id": delivery, "event": event, "app": app, "created_at": created_at, "data": data}
        )
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "kefu-webhooks",
            SIGNATURE_HEADER: sign(target.secret, body),
            TIMESTAMP_HEADER: str(created_at),
            EVENT_HEADER: event,
            DELIVERY_HEADER: delivery,
        }
        task = asyncio.get_running_loop().create_task(self._deliver(target, body, headers))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return delivery

    async def _deliver(self, target: WebhookTarget, body: bytes, headers: dict[str, str]) -> bool:
        event, delivery = headers[EVENT_HEADER], headers[DELIVERY_HEADER]
        # A client per delivery: webhooks are rare, and a shared one would be tied to one loop.
        async with httpx.AsyncClient(timeout=target.timeout_s) as client:
            for attempt in range(1, target.max_attempts + 1):
                outcome = await self._attempt(client, target.url, body, headers)
                if outcome is None:
                    return True
                final = attempt == target.max_attempts or outcome.startswith("final")
                log.warning(
                    "webhook %s %s to %s: attempt %d/%d failed (%s)%s",
                    event, delivery, target.url, attempt, target.max_attempts, outcome,
                    "; giving up" if final else "",
                )  # fmt: skip
                if final:
                    return False
                delay = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
                await self._sleep(delay * random.uniform(0.8, 1.2))
        return False

    @staticmethod
    async def _attempt(
        client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]
    ) -> str | None:
        """None on success, else why it failed (``final …`` when retrying cannot help)."""
        try:
            response = await client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if response.is_success:
            return None
        if response.status_code >= 500 or response.status_code in RETRY_STATUSES:
            return f"HTTP {response.status_code}"
        return f"final: HTTP {response.status_code}"

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Wait for the deliveries in flight (tests, shutdown); cancel what is left."""
        loop = asyncio.get_running_loop()
        tasks = [t for t in self._tasks if t.get_loop() is loop]
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=timeout_s)
        for task in pending:
            task.cancel()
