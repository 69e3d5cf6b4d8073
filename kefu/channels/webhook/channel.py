"""The webhook channel: signed JSON in (``POST /channels/<app>/<name>``), signed JSON out.

In: ``{"message_id", "user", "text"}`` with ``X-Kefu-Timestamp`` and ``X-Kefu-Signature``
(HMAC-SHA256 of ``<timestamp>.<body>``); answered 202 at once, ``duplicate: true`` for a
message id seen before. Out: every answer, agent reply and notice to ``url``, signed the
same way, with ``X-Kefu-Delivery`` (the message id, the same on every retry) to drop
repeats by; network errors, 5xx, 408, 425 and 429 are retried with backoff.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson
from pydantic import Field

from kefu.appfile.channel_config import EnvName
from kefu.channels.base import (
    ChannelRequest,
    ChannelResponse,
    ChannelSettings,
    InboundMessage,
    OutboundMessage,
    Peer,
    SendFailed,
)
from kefu.channels.kit import ChannelKit
from kefu.channels.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify
from kefu.core.errors import InvalidParam, Unauthorized
from kefu.observability import metrics

__all__ = ["DELIVERY_HEADER", "WebhookChannel", "WebhookSettings"]

DELIVERY_HEADER = "X-Kefu-Delivery"
RETRY_STATUSES = frozenset({408, 425, 429})
MAX_ID = 128


class WebhookSettings(ChannelSettings):
    """``type: webhook`` in an app file's ``channels:``."""

    url: str = Field(pattern=r"^https?://", description="where kefu POSTs what it says")
    secret_env: EnvName = Field(description="variable holding the shared signing secret")
    max_age_s: float = Field(300, gt=0, le=3600, description="replay window of requests in")


class WebhookChannel:
    def __init__(self, settings: WebhookSettings, secrets: dict[str, str], kit: ChannelKit) -> None:
        self.settings = settings
        self.kit = kit
        self._secret = secrets["secret_env"].encode()
        self._http: httpx.AsyncClient | None = None

    async def receive(self, request: ChannelRequest) -> ChannelResponse:
        if request.method != "POST":
            raise InvalidParam("POST a signed JSON message to this URL")
        problem = verify(
            self._secret,
            request.headers.get(TIMESTAMP_HEADER.lower(), ""),
            request.body,
            request.headers.get(SIGNATURE_HEADER.lower(), ""),
            max_age_s=self.settings.max_age_s,
        )
        if problem is not None:
            metrics.channel_received(self.kit.app_name, self.kit.kind, "rejected")
            raise Unauthorized(f"webhook refused: {problem}")
        message = _inbound(request.body)
        if not await self.kit.first_delivery(message.message_id):
            return ChannelResponse.of_json({"accepted": True, "duplicate": True}, 202)
        self.kit.spawn(self.kit.customer_message(message, checked=True))
        return ChannelResponse.of_json({"accepted": True, "duplicate": False}, 202)

    async def send(self, peer: Peer, message: OutboundMessage) -> None:
        created_at = str(int(time.time()))
        body = orjson.dumps(
            {
                "id": message.message_id,
                "event": "message",
                "kind": message.kind,
                "app": self.kit.app_name,
                "user": peer.id,
                "conversation_id": message.conversation_id,
                "message_id": message.message_id,
                "text": message.text,
                "agent": message.agent,
                "handoff_state": message.handoff_state or None,
                "created_at": int(created_at),
            }
        )
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "kefu-channels",
            TIMESTAMP_HEADER: created_at,
            SIGNATURE_HEADER: sign(self._secret, created_at, body),
            DELIVERY_HEADER: message.message_id,
        }
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.settings.timeout_s)
        response = await self._http.post(self.settings.url, content=body, headers=headers)
        if response.is_success:
            return
        status = response.status_code
        raise SendFailed(f"HTTP {status}", retryable=status >= 500 or status in RETRY_STATUSES)

    async def hand_over(self, peer: Peer) -> None:
        """The conversation waits in kefu's inbox; agents' replies arrive through send()."""

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None


def _inbound(body: bytes) -> InboundMessage:
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidParam("the body must be JSON") from None
    if not isinstance(data, dict):
        raise InvalidParam("the body must be a JSON object")
    fields = {}
    for name in ("message_id", "user", "text"):
        value = data.get(name)
        if not isinstance(value, str) or not value.strip():
            raise InvalidParam(f"{name} is required (a non-empty string)")
        fields[name] = value
    if len(fields["message_id"]) > MAX_ID or len(fields["user"]) > MAX_ID:
        raise InvalidParam(f"message_id and user are at most {MAX_ID} characters")
    return InboundMessage(Peer(fields["user"]), fields["text"], fields["message_id"])
