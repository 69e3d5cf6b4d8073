"""The Feishu bot channel: event subscription v2 (``url_verification``, then
``im.message.receive_v1``), answered through ``im/v1/messages`` with a cached
``tenant_access_token``. Agents answer in kefu's inbox; their replies come back here."""

from __future__ import annotations

import re
from typing import Any

import httpx
import orjson
from pydantic import Field

from kefu.appfile.channel_config import EnvName
from kefu.channels.access_token import AccessToken
from kefu.channels.base import (
    ChannelRequest,
    ChannelResponse,
    ChannelSettings,
    InboundMessage,
    OutboundMessage,
    Peer,
    SendFailed,
    platform_json,
)
from kefu.channels.feishu.crypto import FeishuCryptoError, check_signature, decrypt
from kefu.channels.kit import ChannelKit
from kefu.core.errors import InvalidParam, Unauthorized
from kefu.observability import metrics

__all__ = ["FeishuChannel", "FeishuSettings"]

# tenant_access_token invalid or expired: fetch a new one and call again
TOKEN_ERRORS = frozenset({99991661, 99991663, 99991664, 99991668})
BUSY = frozenset({99991400, 99991401})  # rate limited: worth retrying later
MENTION = re.compile(r"@_user_\d+\s*")  # "@_user_1 退货" in a group: the bot's own mention


class FeishuSettings(ChannelSettings):
    """``type: feishu`` in an app file's ``channels:``."""

    app_id: str = Field(min_length=1, max_length=64, description="the bot app's App ID")
    app_secret_env: EnvName = Field(description="variable holding the App Secret")
    verification_token_env: EnvName = Field(description="variable holding the Verification Token")
    encrypt_key_env: EnvName | None = Field(None, description="variable holding the Encrypt Key")
    api_base: str = Field("https://open.feishu.cn", pattern=r"^https?://")


class FeishuApiError(SendFailed):
    def __init__(self, path: str, code: int, msg: str) -> None:
        super().__init__(f"{path}: code {code} {msg}", retryable=code in BUSY)
        self.code = code


class FeishuChannel:
    def __init__(self, settings: FeishuSettings, secrets: dict[str, str], kit: ChannelKit) -> None:
        self.settings = settings
        self.kit = kit
        self._app_secret = secrets["app_secret_env"]
        self._verification_token = secrets["verification_token_env"]
        self._encrypt_key = secrets.get("encrypt_key_env", "")
        self._http: httpx.AsyncClient | None = None
        self.token = AccessToken(self._fetch_token)

    # --- inbound ----------------------------------------------------------------------------

    async def receive(self, request: ChannelRequest) -> ChannelResponse:
        if request.method != "POST":
            raise InvalidParam("Feishu posts events to this URL")
        try:
            data = self._event(request)
        except FeishuCryptoError as exc:
            metrics.channel_received(self.kit.app_name, self.kit.kind, "rejected")
            raise Unauthorized(f"Feishu event refused: {exc}") from None
        token = data.get("token") if data.get("type") == "url_verification" else None
        if token is None:
            token = (data.get("header") or {}).get("token")
        if token != self._verification_token:
            metrics.channel_received(self.kit.app_name, self.kit.kind, "rejected")
            raise Unauthorized("Feishu event refused: the verification token does not match")
        if data.get("type") == "url_verification":
            return ChannelResponse.of_json({"challenge": data.get("challenge", "")})
        if (data.get("header") or {}).get("event_type") == "im.message.receive_v1":
            message = _text_message(data.get("event") or {})
            if message is not None:
                self.kit.spawn(self.kit.customer_message(message))
        return ChannelResponse.of_json({})  # at once: Feishu retries answers slower than 3 s

    def _event(self, request: ChannelRequest) -> dict[str, Any]:
        try:
            data = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            raise InvalidParam("the event must be JSON") from None
        if not isinstance(data, dict):
            raise InvalidParam("the event must be a JSON object")
        if "encrypt" not in data:
            if self._encrypt_key:  # configured with a key: a plain event is not Feishu's
                raise FeishuCryptoError("the event is not encrypted")
            return data
        if not self._encrypt_key:
            raise FeishuCryptoError("an encrypted event, but no encrypt_key_env is set")
        received = request.headers.get("x-lark-signature")
        if received:  # the URL check carries none; events do
            check_signature(
                request.headers.get("x-lark-request-timestamp", ""),
                request.headers.get("x-lark-request-nonce", ""),
                self._encrypt_key,
                request.body,
                received,
            )
        try:
            inner = orjson.loads(decrypt(self._encrypt_key, str(data["encrypt"])))
        except orjson.JSONDecodeError:
            raise FeishuCryptoError("the decrypted event is not JSON") from None
        if not isinstance(inner, dict):
            raise FeishuCryptoError("the decrypted event is not an object")
        return inner

    # --- outbound ---------------------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                base_url=self.settings.api_base.rstrip("/"), timeout=self.settings.timeout_s
            )
        return self._http

    async def _fetch_token(self) -> tuple[str, float]:
        path = "/open-apis/auth/v3/tenant_access_token/internal"
        data = platform_json(
            await self._client().post(
                path, json={"app_id": self.settings.app_id, "app_secret": self._app_secret}
            ),
            path,
        )
        if data.get("code") != 0 or not data.get("tenant_access_token"):
            raise FeishuApiError(path, int(data.get("code", -1)), str(data.get("msg")))
        return str(data["tenant_access_token"]), float(data.get("expire", 7200))

    async def send(self, peer: Peer, message: OutboundMessage) -> None:
        path = "/open-apis/im/v1/messages"
        body = {
            "receive_id": peer.address["chat_id"],
            "msg_type": "text",
            "content": orjson.dumps({"text": message.text}).decode(),
            "uuid": message.message_id[:50],  # Feishu drops a repeat within the hour
        }
        for attempt in (1, 2):
            token = await self.token.get()
            response = await self._client().post(
                path,
                params={"receive_id_type": "chat_id"},
                json=body,
                headers={"Authorization": f"Bearer {token}"},
            )
            data = platform_json(response, path)
            code = int(data.get("code", 0))
            if code in TOKEN_ERRORS and attempt == 1:
                self.token.invalidate(token)
                continue
            if code != 0:
                raise FeishuApiError(path, code, str(data.get("msg", "")))
            return

    async def hand_over(self, peer: Peer) -> None:
        """The conversation waits in kefu's inbox; agents' replies arrive through send()."""

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None


def _text_message(event: dict[str, Any]) -> InboundMessage | None:
    """A person's text message to the bot (other senders and message types are ignored)."""
    sender, message = event.get("sender") or {}, event.get("message") or {}
    if sender.get("sender_type") != "user" or message.get("message_type") != "text":
        return None
    try:
        text = str(orjson.loads(message.get("content") or "{}").get("text") or "")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    chat_id, message_id = message.get("chat_id"), message.get("message_id")
    if not chat_id or not message_id:
        return None
    text = MENTION.sub("", text).strip()
    return InboundMessage(Peer(str(chat_id), {"chat_id": str(chat_id)}), text, str(message_id))
