"""A local Feishu open platform: the tenant token and message endpoints kefu calls, and
event-subscription v2 callbacks encrypted and signed as Feishu does. Shapes from
https://open.feishu.cn/document/server-docs/authentication-management/access-token/tenant_access_token_internal,
.../im-v1/message/create and .../event-subscription-guide (im.message.receive_v1)."""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from kefu.channels.feishu import crypto

APP_ID = "cli_mockapp0001"
APP_SECRET = "mock-feishu-secret"
VERIFICATION_TOKEN = "mock-verification-token"
ENCRYPT_KEY = "mock-encrypt-key"


@dataclass
class MockFeishu:
    callback_url: str = ""
    tokens: set[str] = field(default_factory=set)
    token_fetches: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def _post(self, payload: dict[str, Any]) -> httpx.Response:
        body = orjson.dumps(
            {"encrypt": crypto.encrypt(ENCRYPT_KEY, orjson.dumps(payload).decode())}
        )
        timestamp, nonce = str(int(time.time())), secrets.token_hex(6)
        headers = {
            "Content-Type": "application/json",
            "X-Lark-Request-Timestamp": timestamp,
            "X-Lark-Request-Nonce": nonce,
            "X-Lark-Signature": crypto.signature(timestamp, nonce, ENCRYPT_KEY, body),
        }
        return httpx.post(self.callback_url, content=body, headers=headers, timeout=10)

    def url_verification(self, challenge: str, token: str = VERIFICATION_TOKEN) -> httpx.Response:
        return self._post({"challenge": challenge, "token": token, "type": "url_verification"})

    def user_says(
        self,
        chat_id: str,
        text: str,
        message_id: str | None = None,
        token: str = VERIFICATION_TOKEN,
    ) -> tuple[str, httpx.Response]:
        message_id = message_id or f"om_{next(self._ids)}{secrets.token_hex(4)}"
        event = {
            "schema": "2.0",
            "header": {
                "event_id": secrets.token_hex(16), "event_type": "im.message.receive_v1",
                "create_time": str(int(time.time() * 1000)), "token": token,
                "app_id": APP_ID, "tenant_key": "mock-tenant",
            },
            "event": {
                "sender": {"sender_id": {"open_id": f"ou_{chat_id}"}, "sender_type": "user",
                           "tenant_key": "mock-tenant"},
                "message": {
                    "message_id": message_id, "chat_id": chat_id, "chat_type": "p2p",
                    "message_type": "text", "content": orjson.dumps({"text": text}).decode(),
                    "create_time": str(int(time.time() * 1000)),
                },
            },
        }  # fmt: skip
        return message_id, self._post(event)

    def texts_to(self, chat_id: str) -> list[str]:
        with self.lock:
            return [
                orjson.loads(m["content"])["text"] for m in self.sent if m["receive_id"] == chat_id
            ]

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def app(self) -> FastAPI:
        api = FastAPI()
        mock = self

        @api.post("/open-apis/auth/v3/tenant_access_token/internal")
        async def tenant_token(request: Request) -> dict[str, Any]:
            body = await request.json()
            if body.get("app_id") != APP_ID or body.get("app_secret") != APP_SECRET:
                return {"code": 10014, "msg": "app secret invalid"}
            token = f"t-{secrets.token_hex(12)}"
            with mock.lock:
                mock.tokens.add(token)
                mock.token_fetches += 1
            return {"code": 0, "msg": "ok", "tenant_access_token": token, "expire": 7200}

        @api.post("/open-apis/im/v1/messages")
        async def create_message(request: Request, receive_id_type: str = "") -> JSONResponse:
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            with mock.lock:
                valid = token in mock.tokens
            if not valid:
                return JSONResponse(
                    {"code": 99991663, "msg": "Invalid access token for authorization."}, 400
                )
            body = await request.json()
            if receive_id_type != "chat_id" or body.get("msg_type") != "text":
                return JSONResponse({"code": 230001, "msg": "invalid param"}, 400)
            with mock.lock:
                mock.sent.append(body)
            return JSONResponse({"code": 0, "msg": "success",
                                 "data": {"message_id": f"om_sent{next(mock._ids)}"}})  # fmt: skip

        return api
