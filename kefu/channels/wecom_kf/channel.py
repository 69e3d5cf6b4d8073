"""The WeCom customer-service channel: callback → ``sync_msg`` → the turn → ``send_msg``.

WeCom's callback only says "there is something new" (``kf_msg_or_event`` with a short-lived
token); the messages are pulled with ``kf/sync_msg`` from the stored cursor. A customer's
text goes through the chat service; the welcome (the app's opening statement) answers an
``enter_session`` event through ``send_msg_on_event``; a hand-over either moves the customer
to WeCom's own human queue (``service_state/trans``) or keeps them in kefu's inbox, whose
agent replies are sent with ``send_msg`` — by the app file's ``handoff:``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

from pydantic import Field

from kefu.appfile.channel_config import EnvName
from kefu.channels.base import (
    ChannelRequest,
    ChannelResponse,
    ChannelSettings,
    InboundMessage,
    OutboundMessage,
    Peer,
)
from kefu.channels.kit import ChannelKit
from kefu.channels.wecom_kf.api import WeComApi
from kefu.channels.wecom_kf.crypto import WeComCrypto, WeComCryptoError, parse_xml
from kefu.core.errors import ConfigError, InvalidParam, Unauthorized
from kefu.core.localized import LocalizedText
from kefu.observability import metrics

__all__ = ["WeComKfChannel", "WeComKfSettings"]

log = logging.getLogger(__name__)
CUSTOMER = 3  # a message's origin: 3 the customer, 4 the system, 5 a servicer
SESSION_ENDED = 3  # session_status_change: 1 taken from the queue, 2 transferred, 3 ended
TEXT_BYTES = 2000  # send_msg takes at most 2048 bytes of text
ONLY_TEXT = LocalizedText(
    zh="抱歉，我目前只能阅读文字消息，请用文字描述您的问题。",
    en="Sorry, I can only read text messages for now; please describe your question in words.",
)


class WeComKfSettings(ChannelSettings):
    """``type: wecom_kf`` in an app file's ``channels:``."""

    corp_id: str = Field(min_length=1, max_length=64, description="企业ID (corpid)")
    secret_env: EnvName = Field(description="variable holding the 微信客服 Secret")
    token_env: EnvName = Field(description="variable holding the callback Token")
    aes_key_env: EnvName = Field(description="variable holding the callback EncodingAESKey")
    open_kfid: str | None = Field(None, description="answer only this 客服账号 (default: all)")
    handoff: Literal["kefu", "wecom"] = Field(
        "kefu", description="kefu: agents answer in kefu's inbox; wecom: WeCom's human queue"
    )
    servicer_userid: str | None = Field(
        None, description="handoff wecom: this servicer takes the customer (default: the queue)"
    )
    welcome: bool = Field(True, description="greet an entering customer (opening statement)")
    api_base: str = Field("https://qyapi.weixin.qq.com", pattern=r"^https?://")
    sync_limit: int = Field(1000, ge=1, le=1000, description="messages per sync_msg call")


class WeComKfChannel:
    def __init__(self, settings: WeComKfSettings, secrets: dict[str, str], kit: ChannelKit) -> None:
        self.settings = settings
        self.kit = kit
        try:
            self.crypto = WeComCrypto(
                secrets["token_env"], secrets["aes_key_env"], settings.corp_id
            )
        except WeComCryptoError as exc:
            raise ConfigError(f"{settings.aes_key_env}: {exc}", key="aes_key_env") from None
        self.api = WeComApi(
            settings.api_base, settings.corp_id, secrets["secret_env"], settings.timeout_s
        )
        self._pulling = asyncio.Lock()

    # --- inbound ----------------------------------------------------------------------------

    async def receive(self, request: ChannelRequest) -> ChannelResponse:
        query = request.query
        signature, timestamp, nonce = (
            query.get("msg_signature", ""), query.get("timestamp", ""), query.get("nonce", "")
        )  # fmt: skip
        if request.method not in ("GET", "POST"):
            raise InvalidParam("the WeCom callback takes GET (URL check) and POST")
        try:
            if request.method == "GET":
                echo = self.crypto.verify_url(signature, timestamp, nonce, query.get("echostr", ""))
                return ChannelResponse.of_text(echo)
            inner = self.crypto.decrypt_callback(signature, timestamp, nonce, request.body)
            message = parse_xml(inner)
        except WeComCryptoError as exc:
            metrics.channel_received(self.kit.app_name, self.kit.kind, "rejected")
            raise Unauthorized(f"WeCom callback refused: {exc}") from None
        if message.get("MsgType") == "event" and message.get("Event") == "kf_msg_or_event":
            self.kit.spawn(self.pull(message.get("Token", ""), message.get("OpenKfId", "")))
        return ChannelResponse.of_text("success")  # at once: WeCom retries slow answers

    async def pull(self, token: str, open_kfid: str) -> None:
        """Read everything new since the stored cursor, one call at a time per channel."""
        if self.settings.open_kfid and open_kfid and open_kfid != self.settings.open_kfid:
            return
        async with self._pulling:
            cursor = await self.kit.cursor(open_kfid)
            while True:
                body: dict[str, Any] = {
                    "cursor": cursor, "token": token, "limit": self.settings.sync_limit,
                }  # fmt: skip
                if open_kfid:
                    body["open_kfid"] = open_kfid
                data = await self.api.call("kf/sync_msg", body)
                for item in data.get("msg_list") or []:
                    try:
                        await self._handle(item)
                    except Exception:  # one bad message never blocks the ones after it
                        log.exception("%s/%s: message %s failed", self.kit.app_name,
                                      self.kit.name, item.get("msgid"))  # fmt: skip
                cursor = str(data.get("next_cursor") or cursor)
                await self.kit.save_cursor(cursor, open_kfid)
                if not data.get("has_more"):
                    return

    async def _handle(self, item: dict[str, Any]) -> None:
        msgid = str(item.get("msgid") or "")
        if not msgid:
            return
        if item.get("msgtype") == "event":
            await self._event(msgid, item.get("event") or {})
            return
        if item.get("origin") != CUSTOMER:
            return  # what servicers and the system said
        open_kfid, user = str(item.get("open_kfid") or ""), str(item.get("external_userid") or "")
        peer = Peer(f"{open_kfid}:{user}", {"open_kfid": open_kfid, "external_userid": user})
        if item.get("msgtype") == "text":
            text = str((item.get("text") or {}).get("content") or "")
            await self.kit.customer_message(InboundMessage(peer, text, msgid))
        elif await self.kit.first_delivery(msgid):
            notice = ONLY_TEXT.get(self.kit.app.config.language)
            await self.kit.deliver(peer, OutboundMessage(notice, f"{msgid}-notice", "notice"))

    async def _event(self, msgid: str, event: dict[str, Any]) -> None:
        """``enter_session`` with a ``welcome_code``: greet with the opening statement;
        ``session_status_change`` 3 (a servicer ended the session): the bot is back."""
        if event.get("event_type") == "session_status_change":
            if event.get("change_type") == SESSION_ENDED and await self.kit.first_delivery(msgid):
                open_kfid = str(event.get("open_kfid") or "")
                user = str(event.get("external_userid") or "")
                await self.kit.human_desk_finished(Peer(f"{open_kfid}:{user}"))
            return
        code = event.get("welcome_code")
        opening = self.kit.app.config.opening_statement
        if event.get("event_type") != "enter_session" or not code or not opening:
            return
        if not self.settings.welcome or not await self.kit.first_delivery(msgid):
            return
        body = {
            "code": code, "msgid": _msgid(msgid), "msgtype": "text",
            "text": {"content": opening.get(self.kit.app.config.language)},
        }  # fmt: skip

        async def send() -> None:
            await self.api.call("kf/send_msg_on_event", body)

        await self.kit.retry(send, f"welcome {msgid}")

    # --- outbound ---------------------------------------------------------------------------

    async def send(self, peer: Peer, message: OutboundMessage) -> None:
        """``send_msg``; a long text goes in pieces, each with its own stable ``msgid``."""
        for index, piece in enumerate(_pieces(message.text)):
            await self.api.call(
                "kf/send_msg",
                {
                    "touser": peer.address["external_userid"],
                    "open_kfid": peer.address["open_kfid"],
                    "msgid": _msgid(message.message_id, index),
                    "msgtype": "text",
                    "text": {"content": piece},
                },
            )

    async def hand_over(self, peer: Peer) -> None:
        """``handoff: wecom``: to WeCom's queue (state 2) or straight to a servicer (3)."""
        if self.settings.handoff != "wecom":
            return  # kept in kefu's inbox; agents' replies come back through send()
        body: dict[str, Any] = {
            "open_kfid": peer.address["open_kfid"],
            "external_userid": peer.address["external_userid"],
            "service_state": 3 if self.settings.servicer_userid else 2,
        }
        if self.settings.servicer_userid:
            body["servicer_userid"] = self.settings.servicer_userid

        async def transfer() -> None:
            await self.api.call("kf/service_state/trans", body)

        await self.kit.retry(transfer, f"transfer {peer.id}")

    async def aclose(self) -> None:
        await self.api.aclose()


def _msgid(message_id: str, index: int = 0) -> str:
    """WeCom's ``msgid``: at most 32 of [0-9a-zA-Z_-]; the same for every retry."""
    clean = "".join(ch for ch in message_id if ch.isascii() and (ch.isalnum() or ch in "_-"))
    clean = clean.replace("-", "")
    return clean[:32] if index == 0 else f"{clean[:28]}_{index}"


def _pieces(text: str) -> list[str]:
    """``text`` cut at character boundaries into pieces of at most TEXT_BYTES UTF-8 bytes."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for char in text:
        width = len(char.encode())
        if size + width > TEXT_BYTES:
            pieces.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += width
    if current or not pieces:
        pieces.append("".join(current))
    return pieces
