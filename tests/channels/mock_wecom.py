"""A local WeCom server: the 微信客服 endpoints kefu calls, with the documented request and
response shapes, access tokens that expire, and callbacks signed and encrypted as WeCom does
(WXBizMsgCrypt). Shapes from https://developer.work.weixin.qq.com/document/path/94670
(sync_msg), 94677 (send_msg), 95122 (send_msg_on_event), 94669 (service_state), 91039
(gettoken), 90968 (加解密方案)."""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request

from kefu.channels.wecom_kf.crypto import WeComCrypto

CORP_ID = "wwmockcorp000001"
SECRET = "mock-kf-secret"
TOKEN = "mockCallbackToken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as WeCom shows


@dataclass
class MockWeCom:
    crypto: WeComCrypto = field(default_factory=lambda: WeComCrypto(TOKEN, AES_KEY, CORP_ID))
    expires_in: int = 7200  # what gettoken reports
    tokens: dict[str, float] = field(default_factory=dict)  # token → when it really expires
    token_fetches: int = 0
    refused_tokens: int = 0  # calls answered 40014/42001
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # per open_kfid
    msg_tokens: set[str] = field(default_factory=set)
    welcome_codes: set[str] = field(default_factory=set)
    sent: list[dict[str, Any]] = field(default_factory=list)
    welcomes: list[dict[str, Any]] = field(default_factory=list)
    transfers: list[dict[str, Any]] = field(default_factory=list)
    fail_send: list[int] = field(default_factory=list)  # errcodes for the next send_msg calls
    callback_urls: dict[str, str] = field(default_factory=dict)  # open_kfid → kefu's URL
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    # --- what the test does (as WeChat users and the WeCom admin) ---------------------------

    def customer_says(self, open_kfid: str, user: str, text: str) -> str:
        msgid = f"msg{next(self._ids)}{secrets.token_hex(4)}"
        self._add(open_kfid, {
            "msgid": msgid, "open_kfid": open_kfid, "external_userid": user,
            "send_time": int(time.time()), "origin": 3, "msgtype": "text",
            "text": {"content": text},
        })  # fmt: skip
        return msgid

    def customer_sends_image(self, open_kfid: str, user: str) -> str:
        msgid = f"img{next(self._ids)}"
        self._add(open_kfid, {
            "msgid": msgid, "open_kfid": open_kfid, "external_userid": user,
            "send_time": int(time.time()), "origin": 3, "msgtype": "image",
            "image": {"media_id": "MEDIA"},
        })  # fmt: skip
        return msgid

    def customer_enters(self, open_kfid: str, user: str) -> str:
        code = f"welcome{next(self._ids)}"
        with self.lock:
            self.welcome_codes.add(code)
        self._add(open_kfid, {
            "msgid": f"evt{next(self._ids)}", "send_time": int(time.time()), "origin": 4,
            "msgtype": "event", "event": {
                "event_type": "enter_session", "open_kfid": open_kfid,
                "external_userid": user, "scene": "123", "welcome_code": code,
            },
        })  # fmt: skip
        return code

    def servicer_ends(self, open_kfid: str, user: str) -> None:
        """The WeCom servicer ends the session (会话状态变更: 结束会话)."""
        self._add(open_kfid, {
            "msgid": f"evt{next(self._ids)}", "send_time": int(time.time()), "origin": 4,
            "msgtype": "event", "event": {
                "event_type": "session_status_change", "open_kfid": open_kfid,
                "external_userid": user, "change_type": 3, "old_servicer_userid": "zhangsan",
                "msg_code": "MSG_CODE",
            },
        })  # fmt: skip

    def _add(self, open_kfid: str, message: dict[str, Any]) -> None:
        with self.lock:
            self.messages.setdefault(open_kfid, []).append(message)

    def callback(self, open_kfid: str) -> tuple[dict[str, str], bytes]:
        """The signed, encrypted kf_msg_or_event callback WeCom POSTs (query, body)."""
        msg_token = f"ENC{secrets.token_hex(8)}"
        with self.lock:
            self.msg_tokens.add(msg_token)
        plain = (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime>"
            "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>"
            f"<Token><![CDATA[{msg_token}]]></Token>"
            f"<OpenKfId><![CDATA[{open_kfid}]]></OpenKfId></xml>"
        )
        encrypted = self.crypto.encrypt(plain)
        timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
        query = {
            "msg_signature": self.crypto.signature(timestamp, nonce, encrypted),
            "timestamp": timestamp,
            "nonce": nonce,
        }
        body = (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
            f"<AgentID><![CDATA[]]></AgentID><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        )
        return query, body.encode()

    def notify(self, open_kfid: str) -> httpx.Response:
        """POST the callback to kefu, as WeCom does when something new arrives."""
        query, body = self.callback(open_kfid)
        return httpx.post(self.callback_urls[open_kfid], params=query, content=body, timeout=10)

    def verify_url(self, url: str) -> tuple[httpx.Response, str]:
        """The GET WeCom makes when the admin saves the callback URL; (answer, expected)."""
        expected = secrets.token_hex(8)
        echostr = self.crypto.encrypt(expected)
        timestamp, nonce = str(int(time.time())), "263014780"
        query = {
            "msg_signature": self.crypto.signature(timestamp, nonce, echostr),
            "timestamp": timestamp, "nonce": nonce, "echostr": echostr,
        }  # fmt: skip
        return httpx.get(url, params=query, timeout=10), expected

    def expire_tokens(self) -> None:
        """Every issued token dies now (WeCom may end one before its stated expiry)."""
        with self.lock:
            self.tokens = dict.fromkeys(self.tokens, 0.0)

    def texts_to(self, user: str) -> list[str]:
        with self.lock:
            return [m["text"]["content"] for m in self.sent if m["touser"] == user]

    # --- the server -----------------------------------------------------------------------------

    def app(self) -> FastAPI:
        api = FastAPI()
        mock = self

        def refused(access_token: str) -> dict[str, Any] | None:
            with mock.lock:
                expires = mock.tokens.get(access_token)
                if expires is None:
                    mock.refused_tokens += 1
                    return {"errcode": 40014, "errmsg": "invalid access_token"}
                if time.time() >= expires:
                    mock.refused_tokens += 1
                    return {"errcode": 42001, "errmsg": "access_token expired"}
            return None

        @api.get("/cgi-bin/gettoken")
        async def gettoken(corpid: str = "", corpsecret: str = "") -> dict[str, Any]:
            if corpid != CORP_ID or corpsecret != SECRET:
                return {"errcode": 40001, "errmsg": "invalid credential"}
            token = secrets.token_urlsafe(24)
            with mock.lock:
                mock.token_fetches += 1
                mock.tokens[token] = time.time() + mock.expires_in
            return {"errcode": 0, "errmsg": "ok", "access_token": token,
                    "expires_in": mock.expires_in}  # fmt: skip

        @api.post("/cgi-bin/kf/sync_msg")
        async def sync_msg(request: Request, access_token: str = "") -> dict[str, Any]:
            if (error := refused(access_token)) is not None:
                return error
            body = await request.json()
            with mock.lock:
                if body.get("token") not in mock.msg_tokens:
                    return {"errcode": 95007, "errmsg": "invalid msg token"}
                everything = mock.messages.get(body.get("open_kfid", ""), [])
                start = int(body.get("cursor") or 0)
                limit = int(body.get("limit") or 1000)
                page = everything[start : start + limit]
                end = start + len(page)
                return {
                    "errcode": 0, "errmsg": "ok", "next_cursor": str(end),
                    "has_more": 1 if end < len(everything) else 0, "msg_list": page,
                }  # fmt: skip

        @api.post("/cgi-bin/kf/send_msg")
        async def send_msg(request: Request, access_token: str = "") -> dict[str, Any]:
            if (error := refused(access_token)) is not None:
                return error
            body = await request.json()
            with mock.lock:
                if mock.fail_send:
                    code = mock.fail_send.pop(0)
                    return {"errcode": code, "errmsg": "system busy"}
                mock.sent.append(body)
            return {"errcode": 0, "errmsg": "ok", "msgid": body.get("msgid") or "generated"}

        @api.post("/cgi-bin/kf/send_msg_on_event")
        async def send_msg_on_event(request: Request, access_token: str = "") -> dict[str, Any]:
            if (error := refused(access_token)) is not None:
                return error
            body = await request.json()
            with mock.lock:
                if body.get("code") not in mock.welcome_codes:
                    return {"errcode": 95000, "errmsg": "invalid code"}
                mock.welcome_codes.discard(body["code"])  # a welcome code is good once
                mock.welcomes.append(body)
            return {"errcode": 0, "errmsg": "ok", "msgid": body.get("msgid") or "generated"}

        @api.post("/cgi-bin/kf/service_state/trans")
        async def trans(request: Request, access_token: str = "") -> dict[str, Any]:
            if (error := refused(access_token)) is not None:
                return error
            body = await request.json()
            if body.get("service_state") == 3 and not body.get("servicer_userid"):
                return {"errcode": 95014, "errmsg": "servicer_userid required"}
            with mock.lock:
                mock.transfers.append(body)
            return {"errcode": 0, "errmsg": "ok", "msg_code": ""}

        return api
